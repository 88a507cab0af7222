"""Search that stays fast on common and very short names: a trigram GiST index over the
names alone, walked nearest-first, and a prefix index on contact point values. Also the
merge point of the 0301 / 0302 / 0401 heads.
"""

from alembic import op

revision = "0303"
down_revision = ("0301", "0302", "0401")


def upgrade() -> None:
    op.execute(
        """
        -- An expression, not a column: every writer (inserts, updates, COPY, imports,
        -- the unmerge that restores a row with SELECT *) keeps it current without knowing
        -- of it, and building the index covers the rows already there. The expression
        -- must stay identical to storage/customers.py's _NAMES for the planner to use it.
        -- Names only: contact points would fill the signatures and dilute the ordering.
        -- siglen=256: with the default 12 bytes the inner pages' signatures have nearly
        -- every bit set, and the nearest-first walk reads most of the leaves.
        CREATE INDEX customers_search_names ON customers
            USING gist ((lower(given_name || ' ' || family_name || ' ' || preferred_name)) gist_trgm_ops (siglen = 256));
        -- Whole or leading part of an e-mail or phone number, whatever the database's
        -- collation (a plain btree serves LIKE 'x%' only under C).
        CREATE INDEX contact_points_value_prefix ON contact_points (kind, value text_pattern_ops);
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP INDEX IF EXISTS contact_points_value_prefix;
        DROP INDEX IF EXISTS customers_search_names;
        """
    )
