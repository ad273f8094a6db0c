"""After a crash: messages stored but never answered are processed at start, and their replies sent."""

from __future__ import annotations

from bot.channels.runtime import recover_pending, start_outbox
from bot.channels.whatsapp_cloud import CloudWhatsAppChannel, CloudWhatsAppConfig
from bot.engine import Engine
from bot.models import InboundMessage

from .helpers import HOURS, serving
from .standins.whatsapp_cloud import CloudApiStandIn


async def test_a_message_stored_before_a_crash_is_answered_once_after_the_restart(engine: Engine) -> None:
    standin = CloudApiStandIn("token-for-recovery", "555")
    async with serving(standin.app) as url:
        config = CloudWhatsAppConfig(
            phone_number_id="555",
            access_token="token-for-recovery",
            app_secret="secret-secret",
            verify_token="verify-verify",
            api_base_url=url,
        )
        channel = CloudWhatsAppChannel(config)
        channel.handler = engine
        message = InboundMessage(
            channel="whatsapp_cloud", sender_id="48600000002", text="when are you open", message_id="wamid.X1"
        )
        assert await engine.receive(message)  # stored and acknowledged, then the process died

        outbox = await start_outbox(engine, {"whatsapp_cloud": channel})
        assert outbox is not None
        try:
            assert await recover_pending(engine, {"whatsapp_cloud": channel}) == 1
            assert await recover_pending(engine, {"whatsapp_cloud": channel}) == 0  # nothing left
            await outbox.drain(within=10)
        finally:
            await outbox.stop()
            await channel.close()
    assert [body["text"]["body"] for body in standin.delivered] == [HOURS]
    assert await engine.store.pending_inbound() == []
