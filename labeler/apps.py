from django.apps import AppConfig


class LabelerConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "labeler"
    verbose_name = "Tweezers labeling"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models.signals import pre_save

        from labeler.security import password_changed

        pre_save.connect(password_changed, sender=get_user_model(), dispatch_uid="i9-password")
        # Registers the tasks in every process, so a job a service sends by name
        # (labeler.jobs) runs as ``.delay`` would: with its options, inline when eager.
        import labeler.tasks  # noqa: F401
