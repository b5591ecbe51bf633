"""``dumpdata``'s JSON format, keeping timestamps to the microsecond.

Django's JSON encoder cuts datetimes and times to milliseconds, so a backup made with
``dumpdata`` and restored with ``loaddata`` changed every ``created_at``/``updated_at``
(and the export, which shows them). Registered as the ``json`` format in
``SERIALIZATION_MODULES``: the same files, read back by Django's own deserializer.
"""

from __future__ import annotations

import datetime as dt

from django.core.serializers import json as django_json
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.timezone import is_aware


class ExactJSONEncoder(DjangoJSONEncoder):
    def default(self, o):
        if isinstance(o, dt.datetime):
            text = o.isoformat()
            if text.endswith("+00:00"):
                text = text.removesuffix("+00:00") + "Z"
            return text
        if isinstance(o, dt.time):
            if is_aware(o):
                raise ValueError("JSON can't represent timezone-aware times.")
            return o.isoformat()
        return super().default(o)


class Serializer(django_json.Serializer):
    def _init_options(self) -> None:
        self.options.setdefault("cls", ExactJSONEncoder)
        super()._init_options()


Deserializer = django_json.Deserializer
