"""${message}"""

from alembic import op
${imports if imports else ""}

# Alembic reads these two; branch labels and dependencies are left out (one linear history).
revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
