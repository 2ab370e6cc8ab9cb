"""Texts of customer notifications, one entry per supported language.

Placeholders are ``str.format`` fields: {points}, {points_name}, {expires_on}, {shop_name}.
Bodies stay short enough for one SMS in most languages.
"""

from __future__ import annotations

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
