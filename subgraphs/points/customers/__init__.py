"""Customers: enrolment, contact details, search, and the Customer entity."""
