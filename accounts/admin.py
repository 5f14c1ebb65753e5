from django.contrib import admin

from accounts import signin

admin.site.site_header = "Bespin administration"
admin.site.site_title = "Bespin admin"
admin.site.index_title = "Jobs, webhooks and users"
# Sign-in limits (accounts.signin) at the admin too. Wrapping the site's own login view keeps
# its URL, redirects and template; a subclass of AdminSite would need its own AdminConfig.
admin.site.login_form = signin.AdminSignInForm
admin.site.login = signin.refused_with_429(admin.site.login)
