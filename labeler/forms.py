"""Forms of the HTML pages. They validate input; the views hand ``cleaned_data`` to a
service, so no form saves a model itself."""

from __future__ import annotations

import json

from django import forms
from django.contrib.auth.forms import PasswordChangeForm
from django.utils.translation import gettext_lazy as _

from labeler import engine
from labeler.models import Membership, Project
from labeler.services.projects import EDITABLE_FIELDS, ProjectRejected, class_names_check

# The settings form edits exactly what the service may change, in the same order.
SETTINGS_FIELDS = list(EDITABLE_FIELDS)


def _strategy_choices(tasks=("single", "findings")) -> list[tuple[str, str]]:
    """The strategies of these tasks (a findings project's registry differs), each once.
    cold_start is what the first round uses before any model exists, not a project choice."""
    names = dict.fromkeys(name for task in tasks for name in engine.strategy_names(task))
    return [(name, name.replace("_", " ")) for name in names if name != "cold_start"]


def class_names(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


class ProjectSettingsForm(forms.ModelForm):
    strategy = forms.ChoiceField(
        choices=_strategy_choices,
        label=_("Strategy"),
        help_text=_("How the next items are chosen; “default” is margin with diversity."),
    )
    features = forms.ChoiceField(
        choices=engine.feature_choices,
        initial="auto",
        label=_("Representation"),
        help_text=_(
            "How items are represented for the model. A change is computed in the background; "
            "labeling goes on with the current one until the new one is ready."
        ),
    )
    new_classes = forms.CharField(
        required=False,
        label=_("Add classes"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One per line. Existing classes stay: their labels refer to them."),
    )

    class Meta:
        model = Project
        fields = SETTINGS_FIELDS
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "guidelines": forms.Textarea(attrs={"rows": 6}),
        }
        labels = {
            "name": _("Name"),
            "description": _("Description"),
            "guidelines": _("Guidelines"),
            "kind": _("Kind"),
            "round_size": _("Round size"),
            "budget": _("Budget"),
            "daily_cap": _("Daily cap"),
            "evaluation_share": _("Evaluation share"),
            "target_metric": _("Target metric"),
            "target_value": _("Target value"),
            "show_model_guess": _("Show the model's guess"),
            "show_suggestions": _("Show your model's suggestion"),
            "lease_seconds": _("Lease (seconds)"),
            "uncertain_policy": _("Uncertain answers"),
        }
        help_texts = {
            "round_size": _(
                "Items the model chooses at a time; it retrains while annotators label the "
                "last quarter of them, from a reserve of next-best items."
            ),
            "guidelines": _(
                "Markdown, shown to annotators in the labeling page's help (?) on their first "
                "visit. HTML is shown as text."
            ),
            "lease_seconds": _("How long an opened item stays reserved for its annotator."),
            "evaluation_share": _("Share of the label budget spent on a random evaluation sample."),
            "budget": _("Total labels the project may spend; empty = no limit."),
            "daily_cap": _("Labels per annotator per day; empty = no limit."),
            "target_value": _(
                "Stop suggestion once the evaluation metric reaches this value (0–1)."
            ),
            "show_model_guess": _("Show the model's guess to annotators (off avoids anchoring)."),
            "show_suggestions": _(
                "Show the suggestion imported from your own model to annotators, accepted "
                "with Enter (off avoids anchoring)."
            ),
            "uncertain_policy": _(
                "Findings projects: how an answer marking a finding uncertain trains the model."
            ),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The registry's representations for this project's kind (all kinds on creation).
        self.fields["features"].choices = engine.feature_choices(self.instance.kind or None)
        if self.instance.pk:
            # The strategies of this project's task (every task's on creation).
            self.fields["strategy"].choices = _strategy_choices([self.instance.task])
        # Only findings projects use it: a form sent without it keeps the project's value.
        self.fields["uncertain_policy"].required = False
        # A text project's form, or one posted before the setting existed, leaves it as it is.
        self.fields["dicom_pixel_text"].required = False

    def clean_uncertain_policy(self) -> str:
        return self.cleaned_data.get("uncertain_policy") or self.instance.uncertain_policy

    def _kind(self) -> str:
        return self.instance.kind

    def clean_features(self) -> str:
        features = self.cleaned_data["features"]
        problem = engine.features_problem(features, self._kind(), self.instance.n_items or None)
        if problem:
            raise forms.ValidationError(problem)
        return features

    def clean_dicom_pixel_text(self) -> str:
        return self.cleaned_data.get("dicom_pixel_text") or self.instance.dicom_pixel_text

    def clean_new_classes(self) -> list[str]:
        names = class_names(self.cleaned_data.get("new_classes") or "")
        existing = set(self.instance.classes.values_list("name", flat=True))
        _check_unique(names, existing)
        return names

    def changes(self) -> dict:
        return {name: self.cleaned_data[name] for name in SETTINGS_FIELDS}


class ProjectCreateForm(ProjectSettingsForm):
    classes = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "placeholder": "benign\nmalignant"}),
        label=_("Classes"),
        help_text=_(
            "One per line, in the order the buttons should appear. Leave empty to take "
            "them from the first import's class folders or label column."
        ),
    )
    overlap = forms.IntegerField(
        min_value=1,
        max_value=10,
        initial=1,
        required=False,
        label=_("Annotators per item"),
        help_text=_(
            "With 2 or more, each item goes to that many different annotators and a "
            "disagreement waits for a manager. Fixed once the project exists."
        ),
    )

    class Meta(ProjectSettingsForm.Meta):
        fields = ["name", "kind", "unit", "task", *SETTINGS_FIELDS[1:], "overlap"]
        labels = {**ProjectSettingsForm.Meta.labels, "unit": _("Each item is"), "task": _("Task")}
        help_texts = {
            **ProjectSettingsForm.Meta.help_texts,
            "task": _(
                "Findings: each answer marks every class below present, absent or uncertain "
                "(several per item). Fixed once the project exists."
            ),
            "unit": _(
                "For DICOM: one image per item, or a whole series or study per item (its "
                "slices grouped and ordered on import). Fixed once the project exists."
            ),
        }

    field_order = ["name", "description", "kind", "unit", "task", "classes"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["new_classes"]
        # Left out (older clients, the text form), a project is one item per image, and one
        # class per item.
        self.fields["unit"].required = False
        self.fields["task"].required = False

    def clean(self) -> dict:
        cleaned = super().clean()
        task = cleaned.get("task") or Project.Task.SINGLE
        strategy = cleaned.get("strategy")
        if strategy and strategy not in engine.strategy_names(task):
            self.add_error(
                "strategy", _("%(name)s is not a strategy for this task.") % {"name": strategy}
            )
        return cleaned

    def _kind(self) -> str:
        return self.cleaned_data.get("kind", "")

    def clean_unit(self) -> str:
        unit = self.cleaned_data.get("unit") or Project.Unit.INSTANCE
        if unit != Project.Unit.INSTANCE and self.cleaned_data.get("kind") != Project.Kind.IMAGE:
            raise forms.ValidationError(
                _("Series and study items are DICOM images: use an image project.")
            )
        return unit

    def clean_classes(self) -> list[str]:
        names = class_names(self.cleaned_data.get("classes") or "")
        _check_unique(names, set())
        if len(names) == 1:
            raise forms.ValidationError(_("A project needs at least two classes (or none yet)."))
        return names

    def options(self) -> dict:
        """Keyword options for ``project_create`` besides name, kind and classes."""
        options = {name: self.cleaned_data[name] for name in SETTINGS_FIELDS if name != "name"}
        # Left empty, one annotator per item, as before the field existed.
        return {
            **options,
            "overlap": self.cleaned_data["overlap"] or 1,
            "unit": self.cleaned_data["unit"],
            "task": self.cleaned_data.get("task") or Project.Task.SINGLE,
        }


def _check_unique(names: list[str], existing: set[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if len(name) > 100:
            raise forms.ValidationError(
                _("Class names have at most 100 characters: %(name)s…") % {"name": name[:40]}
            )
        if name in seen:
            raise forms.ValidationError(_("The class “%(name)s” is listed twice.") % {"name": name})
        if name in existing:
            raise forms.ValidationError(
                _("The project already has a class “%(name)s”.") % {"name": name}
            )
        seen.add(name)
    try:
        # NFKC and look-alikes ("Cat" / "ｃａｔ"), as the service checks them.
        names[:] = class_names_check(names, existing)
    except ProjectRejected as refused:
        raise forms.ValidationError(refused.message) from refused


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        help_text=_(
            "An image, a zip of images (class sub-folders become pre-labels), "
            "a CSV or a JSONL file with a text column."
        ),
    )


class SuggestionsForm(forms.Form):
    file = forms.FileField(
        required=False,
        label=_("Predictions file"),
        help_text=_(
            "CSV or JSONL with item (the item id), label and score, or Label Studio tasks "
            "with predictions (.json). They become suggestions, never labels."
        ),
    )
    clear = forms.BooleanField(required=False)


# A page's tab id: each tab of one annotator holds items of its own.
TAB_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"


def tab_field() -> forms.RegexField:
    return forms.RegexField(
        regex=TAB_PATTERN,
        required=False,
        error_messages={"invalid": _("tab must be 1 to 32 letters, digits, - or _")},
    )


class HoldForm(forms.Form):
    # How many leased items the labeling page wants to hold (the current one and the next).
    hold = forms.IntegerField(min_value=1, max_value=10, required=False)
    tab = tab_field()


class FindingsAnswerMixin:
    """A findings project's answer comes as ``findings``, a JSON object of finding names and
    states, instead of ``label`` (``findings=True``); which one is required follows."""

    def __init__(self, *args, findings: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["label"].required = not findings
        self.fields["findings"].required = findings

    def clean_findings(self) -> dict | None:
        raw = self.cleaned_data.get("findings")
        if not raw:
            return None
        try:
            value = json.loads(raw)
        except ValueError as error:
            raise forms.ValidationError(_("findings must be a JSON object")) from error
        if not isinstance(value, dict):
            raise forms.ValidationError(_("findings must be a JSON object"))
        return value


class SubmitForm(FindingsAnswerMixin, HoldForm):
    item_id = forms.IntegerField(min_value=1)
    label = forms.CharField(max_length=100)
    findings = forms.CharField(max_length=20000)
    client_key = forms.CharField(max_length=64, required=False)
    seconds_spent = forms.FloatField(min_value=0, max_value=24 * 3600, required=False)
    note = forms.CharField(max_length=5000, required=False, strip=True)
    unsure = forms.BooleanField(required=False)


class SkipForm(HoldForm):
    item_id = forms.IntegerField(min_value=1)


class CorrectForm(FindingsAnswerMixin, forms.Form):
    annotation_id = forms.IntegerField(min_value=1)
    # The tab that changed the answer: its undo takes the change back.
    tab = tab_field()
    label = forms.CharField(max_length=100)
    findings = forms.CharField(max_length=20000)


class InviteForm(forms.Form):
    EXISTING, NEW = "existing", "new"

    account = forms.ChoiceField(
        choices=[(EXISTING, _("An existing user")), (NEW, _("A new account"))],
        initial=EXISTING,
        widget=forms.RadioSelect,
        label=_("Add"),
    )
    username = forms.CharField(
        max_length=150,
        label=_("Username"),
        help_text=_("A new account gets a one-time password, shown once, for you to hand over."),
    )
    role = forms.ChoiceField(
        choices=Membership.Role.choices, initial=Membership.Role.ANNOTATOR, label=_("Role")
    )

    # Which field a service refusal belongs to; anything else is about the whole form.
    FIELD_FOR_CODE = {
        "unknown_user": "username",
        "invalid_username": "username",
        "user_exists": "username",
        "already_member": "username",
        "unknown_role": "role",
    }

    def creates_account(self) -> bool:
        return self.cleaned_data["account"] == self.NEW


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)


class AdjudicateForm(forms.Form):
    item_id = forms.IntegerField(min_value=1)
    label = forms.CharField(max_length=100)
    # Where the manager decided: the conflicts list, or the item's own page.
    back = forms.ChoiceField(choices=[("conflicts", "conflicts"), ("item", "item")], required=False)


class OwnPasswordChangeForm(PasswordChangeForm):
    """Django's password change, refusing the password the account has now: a one-time
    password "changed" to itself would stay known to whoever handed it over."""

    def clean_new_password1(self) -> str:
        password = self.cleaned_data.get("new_password1")
        if password and self.user.check_password(password):
            raise forms.ValidationError(
                _("Choose a new password: this is the one the account has now."),
                code="password_unchanged",
            )
        return password
