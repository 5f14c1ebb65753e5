// API access: copy buttons for the key, secret or command shown once. They show only with
// JavaScript (.js-only); without it the text is there to select and copy by hand.
document.documentElement.classList.add("js");

async function copy(element) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(element.textContent);
    return "Copied.";
  }
  // Pages served over plain HTTP (localhost aside) have no Clipboard API: copy the selection.
  const range = document.createRange();
  range.selectNodeContents(element);
  getSelection().removeAllRanges();
  getSelection().addRange(range);
  return document.execCommand("copy") ? "Copied." : "Selected: press Ctrl+C to copy.";
}

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const status = button.parentElement.querySelector("[data-copy-status]");
  try {
    status.textContent = await copy(document.querySelector(button.dataset.copy));
  } catch (error) {
    status.textContent = "Could not copy: select the text and copy it instead.";
  }
});
