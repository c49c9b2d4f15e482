"""Privacy requests: a person's data exported or erased, the visitor ids of an erased person
refused until a new consent, and every request on record in ``privacy_audit``."""
