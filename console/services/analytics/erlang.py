"""Erlang C: how many agents a queue needs to answer a share of clients within a target time.

The M/M/N queue's textbook formulas (A. K. Erlang, 1917; as in Gans, Koole & Mandelbaum,
"Telephone call centers: tutorial, review, and research prospects", M&SOM 5(2), 2003, and
the worked examples on callcentrehelper.com; the same as pyworkforce's ``ErlangC``, which
needs pandas and OR-Tools and so is not used here):

- traffic ``A = arrivals per second x average handling time`` (Erlangs);
- Erlang B by the stable recursion ``B(0) = 1``, ``B(n) = A B(n-1) / (n + A B(n-1))``;
- the probability a client waits ``C(N, A) = N B(N, A) / (N - A (1 - B(N, A)))`` for N > A
  (1 when N <= A: the queue grows without bound);
- service level ``SL(t) = 1 - C e^{-(N - A) t / AHT}``; average speed of answer
  ``ASA = C AHT / (N - A)``; occupancy ``A / N``.

Chat: an agent handles ``concurrency`` conversations at once, so the queue has
``agents x concurrency`` servers; the servers needed are found first and divided by the
concurrency, rounded up (the usual first-order model of chat concurrency).
"""

from __future__ import annotations

import math

from pydantic import BaseModel

MAX_SERVERS = 10_000


def erlang_b(servers: int, traffic: float) -> float:
    """Blocking probability of ``servers`` servers offered ``traffic`` Erlangs."""
    if servers < 0 or traffic < 0:
        raise ValueError("servers and traffic must not be negative")
    b = 1.0
    for n in range(1, servers + 1):
        b = traffic * b / (n + traffic * b)
    return b


def erlang_c(servers: int, traffic: float) -> float:
    """Probability that an arriving client waits (1 when the servers cannot keep up)."""
    if traffic <= 0:
        return 0.0
    if servers <= traffic:
        return 1.0
    b = erlang_b(servers, traffic)
    return servers * b / (servers - traffic * (1 - b))


def service_level(servers: int, traffic: float, target_seconds: float, handle_seconds: float) -> float:
    """Share of clients answered within ``target_seconds``."""
    if traffic <= 0:
        return 1.0
    if servers <= traffic:
        return 0.0
    return 1 - erlang_c(servers, traffic) * math.exp(-(servers - traffic) * target_seconds / handle_seconds)


def average_speed_of_answer(servers: int, traffic: float, handle_seconds: float) -> float:
    """Mean wait before an answer, in seconds (infinite when the servers cannot keep up)."""
    if traffic <= 0:
        return 0.0
    if servers <= traffic:
        return math.inf
    return erlang_c(servers, traffic) * handle_seconds / (servers - traffic)


class Staffing(BaseModel):
    """What one hour needs to meet one target."""

    arrivals_per_hour: float
    traffic_erlangs: float
    servers: int
    agents: int
    service_level: float
    waiting_probability: float
    average_speed_of_answer_seconds: float
    occupancy: float


def agents_needed(
    arrivals_per_hour: float,
    *,
    handle_seconds: float,
    target_seconds: float,
    target_share: float,
    concurrency: int = 1,
    max_occupancy: float = 1.0,
) -> Staffing:
    """The fewest agents (with ``concurrency`` chats each) that answer ``target_share`` of the
    hour's clients within ``target_seconds`` with occupancy at most ``max_occupancy``."""
    if not 0 < target_share < 1:
        raise ValueError("target_share must be between 0 and 1")
    if concurrency < 1 or handle_seconds <= 0 or target_seconds < 0:
        raise ValueError("concurrency and handling time must be positive")
    traffic = arrivals_per_hour * handle_seconds / 3600
    if traffic <= 0:
        return Staffing(
            arrivals_per_hour=arrivals_per_hour,
            traffic_erlangs=0.0,
            servers=0,
            agents=0,
            service_level=1.0,
            waiting_probability=0.0,
            average_speed_of_answer_seconds=0.0,
            occupancy=0.0,
        )
    servers = max(1, math.floor(traffic) + 1)
    while servers < MAX_SERVERS:
        level = service_level(servers, traffic, target_seconds, handle_seconds)
        if level >= target_share and traffic / servers <= max_occupancy:
            break
        servers += 1
    return Staffing(
        arrivals_per_hour=arrivals_per_hour,
        traffic_erlangs=round(traffic, 4),
        servers=servers,
        agents=math.ceil(servers / concurrency),
        service_level=round(service_level(servers, traffic, target_seconds, handle_seconds), 4),
        waiting_probability=round(erlang_c(servers, traffic), 4),
        average_speed_of_answer_seconds=round(average_speed_of_answer(servers, traffic, handle_seconds), 2),
        occupancy=round(traffic / servers, 4),
    )
