"""placeholder"""
def domain_classifier(*a, **k):
    return {}
