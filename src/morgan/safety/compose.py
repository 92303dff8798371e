"""Morgan's fixed safety response: calm, direct and warm, in Morgan's own words.

Nothing of the person's message goes into it, so it can never echo or affirm what they
said; it always points to immediate help for the configured locale and invites them to keep
talking. It is the reply whenever no personalised wording passes `check_safety_text`.
"""

from __future__ import annotations

from morgan.emotion.crisis import CrisisKind
from morgan.safety.resources import HelpResources

_SELF_HARM = (
    "I'm really glad you told me. It sounds like you are carrying a lot of pain right now, "
    "and you don't have to carry it on your own.",
    "If you are in danger now, {emergency}.",
    "You can also reach a crisis line at any hour and talk to someone who understands: {crisis}.",
    "I'm here, and I'd like to keep talking with you. Are you safe right now?",
)
_HARM_TO_OTHERS = (
    "Thank you for telling me. It sounds like you are feeling a great deal of anger or pain "
    "right now, and it matters that you said it.",
    "If you or anyone else is in danger now, {emergency}.",
    "Please put some distance between yourself and the other person for now. A crisis line "
    "can help you get through the next hours, and they talk with people who feel this way "
    "every day: {crisis}.",
    "I'm here and I'm listening. Do you want to tell me what is going on?",
)


def compose_safety_response(kind: CrisisKind, resources: HelpResources) -> str:
    """The fixed response for a crisis of `kind`, with the help lines of `resources`."""
    paragraphs = _SELF_HARM if kind == "self_harm" else _HARM_TO_OTHERS
    return "\n\n".join(
        p.format(emergency=resources.emergency, crisis=resources.crisis) for p in paragraphs
    )
