"""GroupCache, the in-process read cache behind prompt resolution and key lookups: what it
stores, what it refuses to store, and what one eviction drops (found by `make mutate`)."""

from __future__ import annotations

from prometheus_client import REGISTRY

from prompt_ledger.cache import GroupCache


def enabled(ttl: float = 60.0, max_groups: int = 10) -> GroupCache[str, str, int]:
    cache: GroupCache[str, str, int] = GroupCache("test", ttl, max_groups)
    cache.enabled = True
    return cache


def test_a_stored_entry_is_served_until_its_group_is_evicted() -> None:
    cache = enabled()
    cache.put("prompt", "production", 1, cache.generation("prompt"))
    cache.put("prompt", "staging", 2, cache.generation("prompt"))
    cache.put("other", "production", 3, cache.generation("other"))
    assert (cache.get("prompt", "production"), cache.get("prompt", "staging")) == (1, 2)
    cache.evict("prompt")
    assert (cache.get("prompt", "production"), cache.get("prompt", "staging")) == (None, None)
    assert cache.get("other", "production") == 3


def test_a_disabled_cache_neither_serves_nor_stores() -> None:
    cache = enabled()
    cache.put("prompt", "production", 1, 0)
    cache.enabled = False
    assert cache.get("prompt", "production") is None
    cache.put("prompt", "staging", 2, 0)
    cache.enabled = True
    assert cache.get("prompt", "production") == 1
    assert cache.get("prompt", "staging") is None


def test_a_ttl_of_zero_stores_nothing() -> None:
    cache = enabled(ttl=0)
    cache.put("prompt", "production", 1, 0)
    assert cache.get("prompt", "production") is None


def test_a_read_that_raced_an_eviction_is_not_stored() -> None:
    cache = enabled()
    generation = cache.generation("prompt")
    cache.evict("prompt")  # a write committed while the read was in flight
    assert cache.generation("prompt") == generation + 1
    cache.put("prompt", "production", 1, generation)
    assert cache.get("prompt", "production") is None
    cache.put("prompt", "production", 2, cache.generation("prompt"))
    assert cache.get("prompt", "production") == 2


def test_clear_evicts_every_group_and_bumps_each_generation() -> None:
    cache = enabled()
    for group in ("a", "b"):
        cache.put(group, "k", 1, 0)
    unheld = cache.generation("c")  # a read in flight for a group nobody stored yet
    cache.clear()
    assert (cache.get("a", "k"), cache.get("b", "k")) == (None, None)
    assert 0 < cache.generation("a") == cache.generation("b") == cache.generation("c")
    cache.put("c", "k", 1, unheld)
    assert cache.get("c", "k") is None


def test_a_follower_is_evicted_cleared_and_switched_with_its_leader() -> None:
    leader = enabled()
    follower: GroupCache[str, tuple[str, int], str] = GroupCache("derived", 60.0)
    follower.follow(leader)
    assert follower.enabled
    follower.put("prompt", ("production", 1), "resolved", follower.generation("prompt"))
    follower.put("other", ("production", 1), "kept", follower.generation("other"))
    read = follower.generation("prompt")
    leader.evict("prompt")  # a write of the prompt (a notification, or the writing process)
    assert follower.get("prompt", ("production", 1)) is None
    assert follower.get("other", ("production", 1)) == "kept"
    follower.put("prompt", ("production", 1), "stale", read)
    assert follower.get("prompt", ("production", 1)) is None
    leader.clear()  # a "*" notification
    assert follower.get("other", ("production", 1)) is None
    leader.enabled = False  # the listener lost its connection
    assert follower.enabled is False


def test_past_max_groups_the_oldest_group_makes_room() -> None:
    cache = enabled(max_groups=2)
    for group, value in (("first", 1), ("second", 2)):
        cache.put(group, "k", value, 0)
    cache.put("second", "other", 20, 0)  # a known group takes no new room
    assert cache.get("first", "k") == 1
    cache.put("third", "k", 3, 0)
    assert cache.get("first", "k") is None
    assert (cache.get("second", "k"), cache.get("second", "other")) == (2, 20)
    assert cache.get("third", "k") == 3


def test_a_new_cache_is_bypassed_until_switched_on() -> None:
    cache: GroupCache[str, str, int] = GroupCache("test", 60.0)
    assert cache.enabled is False
    cache.put("prompt", "production", 1, 0)
    cache.enabled = True
    assert cache.get("prompt", "production") is None


def test_evicting_an_unknown_group_only_moves_its_generation() -> None:
    cache = enabled()
    cache.evict("never-stored")
    assert cache.generation("never-stored") == 1
    cache.evict("never-stored")
    assert cache.generation("never-stored") == 2
    assert cache.get("never-stored", "k") is None


def lookups(cache: str, result: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "promptledger_cache_lookups_total", {"cache": cache, "result": result}
        )
        or 0.0
    )


def test_each_lookup_counts_as_a_hit_or_a_miss_of_its_cache() -> None:
    cache: GroupCache[str, str, int] = GroupCache("lookups-test", 60.0)
    cache.enabled = True
    before = (lookups("lookups-test", "hit"), lookups("lookups-test", "miss"))
    cache.get("prompt", "production")  # a miss
    cache.put("prompt", "production", 1, 0)
    cache.get("prompt", "production")  # a hit
    cache.get("prompt", "production")  # a hit
    cache.enabled = False
    cache.get("prompt", "production")  # bypassed: a miss
    after = (lookups("lookups-test", "hit"), lookups("lookups-test", "miss"))
    assert (after[0] - before[0], after[1] - before[1]) == (2.0, 2.0)
