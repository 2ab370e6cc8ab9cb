"""Customer notifications: the merchant's provider settings, templates per message type and
locale, test sends, and the delivery log.

Here, in the points subgraph, because what a notification needs is here: the provider choice
and its encrypted API key are program settings (``program_settings``, read through
``points.program.repository``, where the expiry and referral jobs already read them), most
messages are about points (earned, redeemed, expiring), and the customers they go to are this
subgraph's. Other subgraphs' messages (a GDPR request done) reach it as durable jobs, never
imports.
"""
