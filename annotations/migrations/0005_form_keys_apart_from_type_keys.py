from django.db import migrations

# The annotate screen takes source type and form keys in one mode (no <select>),
# so the default scheme's form keys must differ from its type keys.
NEW_KEYS = {"direct": ("d", "q"), "indirect": ("i", "k"), "mixed": ("m", "x")}


def form_keys(apps, schema_editor):
    Label = apps.get_model("annotations", "Label")
    for code, (old, new) in NEW_KEYS.items():
        # Only keys still as shipped: a manager's own choice stays.
        labels = Label.objects.filter(
            dimension__role="form", dimension__code="form", code=code, key=old
        )
        for label in labels:
            taken = Label.objects.filter(dimension=label.dimension, key=new)
            if not taken.exists():
                label.key = new
                label.save(update_fields=["key"])


def back(apps, schema_editor):
    Label = apps.get_model("annotations", "Label")
    for code, (old, new) in NEW_KEYS.items():
        Label.objects.filter(
            dimension__role="form", dimension__code="form", code=code, key=new
        ).update(key=old)


class Migration(migrations.Migration):
    dependencies = [("annotations", "0004_source_owner")]

    operations = [migrations.RunPython(form_keys, back)]
