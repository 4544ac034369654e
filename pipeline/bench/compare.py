"""Two reports (default population, 10x population) -> what the larger population costs."""

from __future__ import annotations

from pipeline.bench.figures import ratio, written_rate


MACHINE_DRIFT = 0.20  # floors' CPU per event further apart than this: the machine was not the same
RSS_NOISE_MB = 20  # the worker's peak RSS varies this much between identical runs (174.8-202.2 MiB)


def compare_customers(base: dict, big: dict) -> dict:
    """Two reports (default population, 10x population) -> throughput ratio and memory per profile.

    Both runs measure the no-op floor first; its CPU per event is fixed work, so when the two
    floors differ by more than MACHINE_DRIFT the machine itself ran slower in one of them (a
    host-level slowdown that steal time does not show, e.g. 31.7 against 56.2 us)
    and the throughput ratio says nothing about the population: `machine_comparable` is false.
    Memory per profile is given only when the second run's peak RSS is higher by more than its
    run-to-run noise; the profiles 30,000 events add are lost in it (bench/bench_customers.py
    measures memory per profile directly)."""
    pb, pg = base["pipeline"], big["pipeline"]
    out = {"throughput_ratio": ratio(written_rate(pg), written_rate(pb)),
           "throughput_ratio_by_cpu": ratio(pb.get("cpu_us_per_event"), pg.get("cpu_us_per_event")),
           "throughput_target": ">= 0.8"}
    floors = [(r.get("floor_ours") or {}).get("cpu_us_per_event") for r in (base, big)]
    if all(floors):
        out["floor_cpu_us_per_event"] = {"base": floors[0], "this": floors[1]}
        out["machine_comparable"] = abs(floors[1] / floors[0] - 1) <= MACHINE_DRIFT
    rss_b, rss_g = base.get("memory", {}).get("worker_peak_rss_mb"), big.get("memory", {}).get("worker_peak_rss_mb")
    prof_b, prof_g = pb.get("customer_profiles"), pg.get("customer_profiles")
    if rss_b and rss_g and prof_b is not None and prof_g and prof_g != prof_b:
        if rss_g - rss_b >= RSS_NOISE_MB:
            out["bytes_per_profile"] = round((rss_g - rss_b) * 2**20 / (prof_g - prof_b))
        else:
            out["bytes_per_profile"] = None
            out["bytes_per_profile_note"] = (f"{prof_g - prof_b:+,} profiles moved the peak RSS by {rss_g - rss_b:+.1f} "
                                             f"MiB, within its run-to-run noise ({RSS_NOISE_MB} MiB); "
                                             "bench/bench_customers.py measures memory per profile")
    return out
