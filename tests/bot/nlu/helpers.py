"""A small beauty-salon bot's NLU data (Rasa YAML) for pipeline tests, read by the real loader."""

from __future__ import annotations

from pathlib import Path

from bot.config import BotConfig, ComponentConfig
from bot.loaders import load_nlu
from bot.training_data import NLUData

SALON_NLU = """
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hi
    - hello
    - hey there
    - good morning
    - good evening
    - hello, is anyone there?
    - hi concierge
    - hey
    - dzień dobry
    - cześć
    - добрий день
    - привіт
- intent: goodbye
  examples: |
    - bye
    - goodbye
    - see you later
    - bye bye, have a nice day
    - talk to you soon
    - that's all, goodbye
    - see you next time
    - do widzenia
    - до побачення
- intent: thank
  examples: |
    - thanks
    - thank you
    - thank you so much
    - thanks a lot, that helps
    - great, thanks
    - cheers, appreciate it
    - dziękuję
    - дякую
- intent: book_appointment
  examples: |
    - I want to book a [manicure](service)
    - can I book a [pedicure](service) for tomorrow?
    - I'd like to make an appointment for a [haircut](service)
    - book me a [massage](service) please
    - I need an appointment for [gel nails]{"entity": "service", "value": "manicure"}
    - can you schedule a [facial](service) on friday at 3pm
    - I would like to reserve a slot for a [manicure](service)
    - make a booking for [hair colouring](service)
    - is there a free slot for a [pedicure](service) next week?
    - I want to come in for a [massage](service) on saturday
    - please book a [facial](service) for me
    - could I get an appointment this afternoon
    - book an appointment
    - I want to schedule a visit
    - chcę umówić wizytę na [manicure](service)
    - хочу записатися на [педикюр](service)
- intent: cancel_appointment
  examples: |
    - I need to cancel my appointment
    - please cancel my booking
    - cancel my visit tomorrow
    - I can't make it, cancel it please
    - I want to cancel the [massage](service) I booked
    - call off my appointment on friday
    - remove my reservation
    - I won't be able to come, please cancel
    - chcę odwołać wizytę
- intent: ask_price
  examples: |
    - how much is a [manicure](service)?
    - what does a [haircut](service) cost?
    - price of a [pedicure](service)
    - how much do you charge for a [massage](service)
    - what are your prices
    - is a [facial](service) expensive?
    - how much will it cost me
    - price list please
    - ile kosztuje [manicure](service)?
    - скільки коштує [педикюр](service)?
- intent: faq/ask_hours
  examples: |
    - what are your opening hours?
    - when are you open?
    - are you open on sunday?
    - what time do you close today?
    - until when are you open
    - what time do you open in the morning
- intent: faq/ask_location
  examples: |
    - where are you located?
    - what is your address?
    - how do I get to the studio?
    - where is the salon
    - which street are you on
    - directions to your studio please
- intent: faq/ask_parking
  examples: |
    - is there parking nearby?
    - can I park my car at the studio?
    - where can I leave my car
    - do you have a car park
    - is parking free
- synonym: manicure
  examples: |
    - mani
    - nails
- lookup: service
  examples: |
    - manicure
    - pedicure
    - haircut
    - massage
    - facial
    - hair colouring
    - gel nails
    - педикюр
- regex: booking_ref
  examples: |
    - \\bMH-\\d{6}\\b
"""


def salon_data(directory: Path) -> NLUData:
    """Write the salon NLU file into ``directory`` and load it with the project's loader."""
    path = directory / "nlu.yml"
    path.write_text(SALON_NLU, encoding="utf-8")
    return load_nlu([path])


def salon_config(**classifier: object) -> BotConfig:
    """A Rasa-style config for the salon bot (English, Polish and Ukrainian)."""
    return BotConfig(
        language="en",
        languages=["pl", "uk"],
        pipeline=[
            ComponentConfig(name="WhitespaceTokenizer"),
            ComponentConfig(name="RegexFeaturizer"),
            ComponentConfig(name="LexicalSyntacticFeaturizer"),
            ComponentConfig(name="CountVectorsFeaturizer"),
            ComponentConfig(
                name="CountVectorsFeaturizer", params={"analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4}
            ),
            ComponentConfig(name="DIETClassifier", params={"epochs": 100, **classifier}),
            ComponentConfig(name="RegexEntityExtractor"),
            ComponentConfig(
                name="DucklingEntityExtractor",
                params={
                    "dimensions": ["email", "number", "time", "amount-of-money", "phone-number", "url"],
                    "timezone": "UTC",
                },
            ),
            ComponentConfig(name="EntitySynonymMapper"),
            ComponentConfig(name="ResponseSelector", params={"retrieval_intent": "faq"}),
            ComponentConfig(name="FallbackClassifier", params={"threshold": 0.4, "ambiguity_threshold": 0.1}),
        ],
    )
