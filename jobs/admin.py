from django.contrib import admin

from jobs.models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "type", "status", "priority", "progress", "attempt", "owner", "run_at", "created_at")
    list_filter = ("status", "type", "priority", "created_at")
    search_fields = ("id", "owner__username", "error")
    date_hierarchy = "created_at"
    list_select_related = ("owner",)
    readonly_fields = [f.name for f in Job._meta.fields]

    def has_add_permission(self, request):
        # Jobs start through the API or the dashboard, which validate and enqueue them.
        return False

    def has_change_permission(self, request, obj=None):
        return False
