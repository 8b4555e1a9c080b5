"""plan cycle: retired tasks and assignments, the register of recognised units, report
figures, the yearly evaluation

A re-import that no longer finds a task or an assignment in the plan file sets its
``retired_at`` (history kept). ``task.recognition`` names the recognition kind a
percent task is measured over; ``task.figures`` the figures a report collects.

Revision ID: i15_plan_cycle
Revises: 0007_shown_choices
Create Date: 2026-11-30 05:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "i15_plan_cycle"
down_revision: str | None = "i18_reorganize"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = postgresql.JSONB(astext_type=sa.Text())
NOW = sa.text("now()")


def upgrade() -> None:
    op.add_column("task", sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("task", sa.Column("recognition", sa.String(length=32), nullable=True))
    op.add_column(
        "task", sa.Column("figures", JSON, nullable=False, server_default=sa.text("'[]'::jsonb"))
    )
    op.add_column(
        "assignment", sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_table(
        "recognition",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("unit_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=True),
        sa.Column("decided_by", sa.Text(), nullable=False),
        sa.Column("decision_no", sa.String(length=64), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_on", sa.Date(), nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint(
            "kind IN ('model', 'drug_free', 'security_safe', 'rural_security')",
            name=op.f("ck_recognition_kind_valid"),
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_recognition_unit_id_unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recognition")),
        sa.UniqueConstraint("unit_id", "kind", "decision_no", name="uq_recognition_decision"),
    )
    op.create_index("ix_recognition_unit_id", "recognition", ["unit_id"])
    op.create_table(
        "recognition_event",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("recognition_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("tip_id", sa.BigInteger(), nullable=True),
        sa.Column("actor_member_id", sa.BigInteger(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint(
            "status IN ('recognised', 'maintained', 'spread', 'reappraisal', 'closed', 'revoked')",
            name=op.f("ck_recognition_event_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["recognition_id"],
            ["recognition.id"],
            name=op.f("fk_recognition_event_recognition_id_recognition"),
        ),
        sa.ForeignKeyConstraint(
            ["tip_id"], ["tip.id"], name=op.f("fk_recognition_event_tip_id_tip")
        ),
        sa.ForeignKeyConstraint(
            ["actor_member_id"],
            ["member.id"],
            name=op.f("fk_recognition_event_actor_member_id_member"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recognition_event")),
        sa.UniqueConstraint("recognition_id", "status", "on", name="uq_recognition_event"),
    )
    op.create_table(
        "report_figure",
        sa.Column("checkin_id", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Numeric(14, 2), nullable=False),
        sa.Column("proposed", sa.Numeric(14, 2), nullable=True),
        sa.ForeignKeyConstraint(
            ["checkin_id"], ["checkin.id"], name=op.f("fk_report_figure_checkin_id_checkin")
        ),
        sa.PrimaryKeyConstraint("checkin_id", "code", name=op.f("pk_report_figure")),
    )
    op.create_table(
        "evaluation_round",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("sheet", JSON, nullable=False),
        sa.Column("opened_by", sa.BigInteger(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.ForeignKeyConstraint(
            ["opened_by"], ["member.id"], name=op.f("fk_evaluation_round_opened_by_member")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_round")),
        sa.UniqueConstraint("year", name="uq_evaluation_round_year"),
    )
    op.create_table(
        "evaluation",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("round_id", sa.BigInteger(), nullable=False),
        sa.Column("unit_id", sa.BigInteger(), nullable=False),
        sa.Column("sheet_kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("self_total", sa.Numeric(8, 2), nullable=True),
        sa.Column("final_total", sa.Numeric(8, 2), nullable=True),
        sa.Column("grade", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("submitted_by", sa.BigInteger(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.BigInteger(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('draft', 'submitted', 'decided')",
            name=op.f("ck_evaluation_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["round_id"], ["evaluation_round.id"], name=op.f("fk_evaluation_round_id_evaluation_round")
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_evaluation_unit_id_unit")),
        sa.ForeignKeyConstraint(
            ["submitted_by"], ["member.id"], name=op.f("fk_evaluation_submitted_by_member")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["member.id"], name=op.f("fk_evaluation_decided_by_member")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation")),
        sa.UniqueConstraint("round_id", "unit_id", name="uq_evaluation_round_unit"),
    )
    op.create_table(
        "evaluation_score",
        sa.Column("evaluation_id", sa.BigInteger(), nullable=False),
        sa.Column("criterion", sa.String(length=64), nullable=False),
        sa.Column("proposed", sa.Numeric(8, 2), nullable=True),
        sa.Column("self_points", sa.Numeric(8, 2), nullable=True),
        sa.Column("final_points", sa.Numeric(8, 2), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["evaluation_id"],
            ["evaluation.id"],
            name=op.f("fk_evaluation_score_evaluation_id_evaluation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("evaluation_id", "criterion", name=op.f("pk_evaluation_score")),
    )


def downgrade() -> None:
    op.drop_table("evaluation_score")
    op.drop_table("evaluation")
    op.drop_table("evaluation_round")
    op.drop_table("report_figure")
    op.drop_table("recognition_event")
    op.drop_index("ix_recognition_unit_id", table_name="recognition")
    op.drop_table("recognition")
    op.drop_column("assignment", "retired_at")
    op.drop_column("task", "figures")
    op.drop_column("task", "recognition")
    op.drop_column("task", "retired_at")
