"""Invoicing: the invoices asset, the invoice tables, the monthly schedule and simulations."""
