"""Billing's documents: the PDF tax invoice (``tax_invoice``) and the total in Thai words
(``thai_words``)."""
