"""The learning repository contract suite, run against the SQL repositories on both databases.

The test functions are the unit suite's own (imported, not copied); this folder's conftest
supplies SQL-backed fixtures and real-row ids for them.
"""

from tests.unit.learning.test_learning_repository_contracts import (
    test_boosts_contract,
    test_feedback_concurrent_duplicates_record_once,
    test_feedback_contract,
    test_patterns_contract,
    test_preferences_contract,
)

__all__ = [
    "test_boosts_contract",
    "test_feedback_concurrent_duplicates_record_once",
    "test_feedback_contract",
    "test_patterns_contract",
    "test_preferences_contract",
]
