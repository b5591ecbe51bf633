"""Date and time formats of the workbench's locale under its English interface.

The interface is English, but a team in Berlin reads ``04.12.2026 15:37``, not
``12/04/2026 3:37 p.m.``. Django picks formats by interface language, so this module
(found through ``FORMAT_MODULE_PATH``) takes them from the locale named by
``settings.FORMAT_LOCALE`` instead. Only its numeric formats are used: the long ones
spell month names, which the English interface would print in English inside the
locale's pattern ("4. December 2026"). Numbers keep the English decimal point, so the
figures on screen read like the exported CSV.
"""

from importlib import import_module

from django.conf import settings

_locale = import_module(f"django.conf.locale.{settings.FORMAT_LOCALE}.formats")

DATE_FORMAT = SHORT_DATE_FORMAT = _locale.SHORT_DATE_FORMAT
DATETIME_FORMAT = SHORT_DATETIME_FORMAT = _locale.SHORT_DATETIME_FORMAT
TIME_FORMAT = _locale.TIME_FORMAT
FIRST_DAY_OF_WEEK = _locale.FIRST_DAY_OF_WEEK
# The locale's own spelling first (the admin's date widgets write that one), ISO 8601
# accepted everywhere as well.
DATE_INPUT_FORMATS = [*_locale.DATE_INPUT_FORMATS, "%Y-%m-%d"]
DATETIME_INPUT_FORMATS = [
    *_locale.DATETIME_INPUT_FORMATS,
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
]
