import factory
from django.contrib.auth import get_user_model

from labeler import services
from labeler.models import Project


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"expert{n}")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery")

    @classmethod
    def _after_postgeneration(cls, instance, create, results=None):
        if create:
            instance.save()


class ProjectFactory(factory.Factory):
    """Projects are made through the service, as the product makes them."""

    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"Project {n}")
    kind = "image"
    classes = ("a", "b")
    created_by = None

    @classmethod
    def _create(cls, model_class, *, classes, **kwargs):
        return services.project_create(classes=classes, **kwargs)

    @classmethod
    def _build(cls, model_class, *args, **kwargs):
        kwargs.pop("classes", None)
        return model_class(**kwargs)
