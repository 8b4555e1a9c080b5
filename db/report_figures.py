"""The figures a report collects (declared per reporting entry in the plan file).

A figure either has a ``source`` the system can count on its own (proposed to the
reporter, who confirms or corrects it) or is asked for. The values are kept per
report check-in in ``report_figure``.
"""

from __future__ import annotations

# What the system can count for a reporting unit's subtree, up to the report's day.
FIGURE_SOURCES = (
    "tips_received",  # tips received in the plan year
    "tips_closed",  # of which closed
    "checkins",  # progress check-ins made in the plan year
    "targets_met",  # assignments done
    "recognised_model",  # units recognised "điển hình, kiểu mẫu" (register, in force)
    "recognised_drug_free",  # units recognised "sạch về ma túy"
    "recognised_security_safe",  # units meeting "An toàn về an ninh, trật tự"
)
