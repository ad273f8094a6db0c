"""Return on the bot: the people's time durable bot resolutions saved, against what the bot
cost, with the formula the page prints beside the figures.

    hours saved   = contained conversations x minutes a person spends on one / 60
    gross saving  = hours saved x cost per agent hour
    bot cost      = conversations x cost per conversation
    net saving    = gross saving - bot cost

Only ``contained`` conversations count (the bot alone gave a real answer and the client did
not come back within the reopen window): greetings, "I don't know"s and conversations a
person had to take save nobody's time. Costs come from ``analytics.roi`` in ``handoff.yml``.
"""

from __future__ import annotations

from console.services.analytics.models import AnalyticsReport, RoiFigures
from console.services.analytics.settings import RoiConfig


def roi_of(report: AnalyticsReport, config: RoiConfig) -> RoiFigures:
    """The ROI of ``report``'s range under ``config``'s costs (rounded to cents / 0.01 h)."""
    totals = report.totals
    contained = totals.contained if totals else 0
    conversations = totals.volume if totals else 0
    hours = contained * config.minutes_per_conversation / 60
    gross = hours * config.cost_per_agent_hour
    bot_cost = conversations * config.cost_per_conversation
    return RoiFigures(
        currency=config.currency,
        contained=contained,
        conversations=conversations,
        minutes_per_conversation=config.minutes_per_conversation,
        cost_per_agent_hour=config.cost_per_agent_hour,
        cost_per_conversation=config.cost_per_conversation,
        hours_saved=round(hours, 2),
        gross_saving=round(gross, 2),
        bot_cost=round(bot_cost, 2),
        net_saving=round(gross - bot_cost, 2),
    )
