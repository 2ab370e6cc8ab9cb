"""Consents: what each customer agreed to (newsletter, RFM tracking, referrals), with the
record of every grant and revocation. Marketing messages ask ``service.has_consent`` first."""
