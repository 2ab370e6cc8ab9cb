"""Texts of customer notifications, one entry per supported language.

``EXPIRY_REMINDER``'s placeholders are ``str.format`` fields: {points}, {points_name},
{expires_on}, {shop_name}; ``MESSAGE_TEMPLATES`` holds every message type in Jinja syntax
({{ points }}), the texts a merchant's own ``email_templates`` replace. Bodies stay short
enough for one SMS in most languages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_LOCALE = "en"
RTL_LOCALES = frozenset({"ar", "he"})
# Old or alternative codes that devices still send.
LOCALE_ALIASES = {"iw": "he"}


@dataclass(frozen=True)
class Template:
    subject: str
    body: str


EXPIRY_REMINDER: dict[str, Template] = {
    "en": Template(
        subject="Your {points} {points_name} expire on {expires_on}",
        body=(
            "Hi! {points} {points_name} in your {shop_name} account expire on {expires_on}. "
            "Use them on your next order before then."
        ),
    ),
    "es": Template(
        subject="Tus {points} {points_name} caducan el {expires_on}",
        body=(
            "¡Hola! Tienes {points} {points_name} en tu cuenta de {shop_name} que caducan "
            "el {expires_on}. Úsalos en tu próximo pedido antes de esa fecha."
        ),
    ),
    "fr": Template(
        subject="Vos {points} {points_name} expirent le {expires_on}",
        body=(
            "Bonjour ! {points} {points_name} de votre compte {shop_name} expirent le "
            "{expires_on}. Utilisez-les lors de votre prochaine commande d'ici là."
        ),
    ),
    "ar": Template(
        subject="تنتهي صلاحية {points} {points_name} في {expires_on}",
        body=(
            "مرحبًا! لديك {points} {points_name} في حسابك لدى {shop_name} تنتهي صلاحيتها "
            "في {expires_on}. استخدمها في طلبك القادم قبل ذلك التاريخ."
        ),
    ),
    "he": Template(
        subject="{points} {points_name} יפוגו בתאריך {expires_on}",
        body=(
            "שלום! {points} {points_name} בחשבון שלך ב-{shop_name} יפוגו בתאריך "
            "{expires_on}. כדאי לממש אותם בהזמנה הבאה לפני כן."
        ),
    ),
}


# --- every message type, in Jinja syntax ---------------------------------------------------
#
# The built-in text of each message type merchants may replace (``email_templates``), as Jinja
# templates rendered in a sandbox ({{ points }}, never code): a merchant's template is theirs to
# write, so it must not reach anything but the values it is given.

POINTS_EARNED = "points_earned"
REWARD_REDEEMED = "reward_redeemed"
TIER_UPGRADED = "tier_upgraded"
REFERRAL_COMPLETED = "referral_completed"
EXPIRY_REMINDER_TYPE = "expiry_reminder"
GDPR_DONE = "gdpr_done"
SUPPORTED_LOCALES = ("en", "es", "fr", "ar", "he")


@dataclass(frozen=True)
class Placeholders:
    """What a message type's template must say (``required``) and may say (``optional``)."""

    required: frozenset[str]
    optional: frozenset[str] = frozenset()

    @property
    def allowed(self) -> frozenset[str]:
        return self.required | self.optional


PLACEHOLDERS: dict[str, Placeholders] = {
    POINTS_EARNED: Placeholders(
        frozenset({"points", "points_name"}), frozenset({"balance", "shop_name"})
    ),
    REWARD_REDEEMED: Placeholders(
        frozenset({"reward_name", "code"}), frozenset({"points", "points_name", "shop_name"})
    ),
    TIER_UPGRADED: Placeholders(frozenset({"tier_name"}), frozenset({"shop_name"})),
    # An advocate's reward is points or a discount code: a message of either says one of
    # them, so neither is required (the other is empty).
    REFERRAL_COMPLETED: Placeholders(
        frozenset(), frozenset({"points", "points_name", "code", "shop_name"})
    ),
    EXPIRY_REMINDER_TYPE: Placeholders(
        frozenset({"points", "points_name", "expires_on"}), frozenset({"shop_name"})
    ),
    GDPR_DONE: Placeholders(frozenset({"request_type"}), frozenset({"shop_name"})),
}

# Values a preview (and ``notificationTest``) fills in.
SAMPLE_VALUES: dict[str, str] = {
    "points": "250",
    "points_name": "Points",
    "balance": "1200",
    "shop_name": "example.myshopify.com",
    "reward_name": "$5 off",
    "code": "LOYAL-5OFF-EXAMPLE",
    "tier_name": "Gold",
    "expires_on": "2030-01-31",
    "request_type": "data_request",
}


def _jinja(template: Template) -> Template:
    # The expiry texts above are ``str.format`` fields; the same words serve as Jinja.
    def convert(text: str) -> str:
        return re.sub(r"\{(\w+)\}", r"{{ \1 }}", text)

    return Template(subject=convert(template.subject), body=convert(template.body))


def _texts(**by_locale: tuple[str, str]) -> dict[str, Template]:
    return {locale: Template(subject=s, body=b) for locale, (s, b) in by_locale.items()}


MESSAGE_TEMPLATES: dict[str, dict[str, Template]] = {
    POINTS_EARNED: _texts(
        en=(
            "You earned {{ points }} {{ points_name }}",
            "You earned {{ points }} {{ points_name }}. Your balance is {{ balance }}.",
        ),
        es=(
            "Ganaste {{ points }} {{ points_name }}",
            "Ganaste {{ points }} {{ points_name }}. Tu saldo es de {{ balance }}.",
        ),
        fr=(
            "Vous avez gagné {{ points }} {{ points_name }}",
            "Vous avez gagné {{ points }} {{ points_name }}. Votre solde est de {{ balance }}.",
        ),
        ar=(
            "لقد ربحت {{ points }} {{ points_name }}",
            "لقد ربحت {{ points }} {{ points_name }}. رصيدك الآن {{ balance }}.",
        ),
        he=(
            "צברת {{ points }} {{ points_name }}",
            "צברת {{ points }} {{ points_name }}. היתרה שלך היא {{ balance }}.",
        ),
    ),
    REWARD_REDEEMED: _texts(
        en=(
            "Your reward: {{ reward_name }}",
            "Here is your {{ reward_name }}: use the code {{ code }} at checkout.",
        ),
        es=(
            "Tu recompensa: {{ reward_name }}",
            "Aquí tienes tu {{ reward_name }}: usa el código {{ code }} al pagar.",
        ),
        fr=(
            "Votre récompense : {{ reward_name }}",
            "Voici votre {{ reward_name }} : utilisez le code {{ code }} au paiement.",
        ),
        ar=(
            "مكافأتك: {{ reward_name }}",
            "إليك {{ reward_name }}: استخدم الرمز {{ code }} عند الدفع.",
        ),
        he=(
            "הפרס שלך: {{ reward_name }}",
            "הנה {{ reward_name }} שלך: השתמשו בקוד {{ code }} בקופה.",
        ),
    ),
    TIER_UPGRADED: _texts(
        en=(
            "Welcome to {{ tier_name }}",
            "You reached the {{ tier_name }} tier. Enjoy your new perks!",
        ),
        es=(
            "Bienvenido a {{ tier_name }}",
            "Alcanzaste el nivel {{ tier_name }}. ¡Disfruta tus nuevas ventajas!",
        ),
        fr=(
            "Bienvenue au niveau {{ tier_name }}",
            "Vous avez atteint le niveau {{ tier_name }}. Profitez de vos nouveaux avantages !",
        ),
        ar=(
            "مرحبًا بك في {{ tier_name }}",
            "لقد وصلت إلى مستوى {{ tier_name }}. استمتع بمزاياك الجديدة!",
        ),
        he=("ברוכים הבאים ל-{{ tier_name }}", "הגעת לדרגת {{ tier_name }}. תיהנו מההטבות החדשות!"),
    ),
    # ``code`` is set for a discount reward and empty for points.
    REFERRAL_COMPLETED: _texts(
        en=(
            "Your friend joined: {% if code %}a reward{% else %}{{ points }} {{ points_name }}"
            "{% endif %} for you",
            "Thanks for the referral! {% if code %}Your reward code: {{ code }}"
            "{% else %}You earned {{ points }} {{ points_name }}{% endif %}.",
        ),
        es=(
            "Tu amigo se unió: {% if code %}un premio{% else %}{{ points }} {{ points_name }}"
            "{% endif %} para ti",
            "¡Gracias por recomendarnos! {% if code %}Tu código de premio: {{ code }}"
            "{% else %}Ganaste {{ points }} {{ points_name }}{% endif %}.",
        ),
        fr=(
            "Votre ami nous a rejoints : {% if code %}une récompense{% else %}{{ points }} "
            "{{ points_name }}{% endif %} pour vous",
            "Merci pour votre parrainage ! {% if code %}Votre code de récompense : {{ code }}"
            "{% else %}Vous avez gagné {{ points }} {{ points_name }}{% endif %}.",
        ),
        ar=(
            "انضم صديقك: {% if code %}مكافأة{% else %}{{ points }} {{ points_name }}{% endif %} لك",
            "شكرًا على الإحالة! {% if code %}رمز مكافأتك: {{ code }}"
            "{% else %}لقد ربحت {{ points }} {{ points_name }}{% endif %}.",
        ),
        he=(
            "החבר שלך הצטרף: {% if code %}הטבה{% else %}{{ points }} {{ points_name }}"
            "{% endif %} בשבילך",
            "תודה על ההפניה! {% if code %}קוד ההטבה שלך: {{ code }}"
            "{% else %}צברת {{ points }} {{ points_name }}{% endif %}.",
        ),
    ),
    EXPIRY_REMINDER_TYPE: {locale: _jinja(text) for locale, text in EXPIRY_REMINDER.items()},
    GDPR_DONE: _texts(
        en=(
            "Your privacy request is complete",
            "We have completed your privacy request ({{ request_type }}).",
        ),
        es=(
            "Tu solicitud de privacidad está completa",
            "Hemos completado tu solicitud de privacidad ({{ request_type }}).",
        ),
        fr=(
            "Votre demande de confidentialité est traitée",
            "Nous avons traité votre demande de confidentialité ({{ request_type }}).",
        ),
        ar=(
            "اكتمل طلب الخصوصية الخاص بك",
            "لقد أكملنا طلب الخصوصية الخاص بك ({{ request_type }}).",
        ),
        he=("בקשת הפרטיות שלך הושלמה", "השלמנו את בקשת הפרטיות שלך ({{ request_type }})."),
    ),
}
