"""The billing REST API: thin serializers and views over ``billing.services``."""
