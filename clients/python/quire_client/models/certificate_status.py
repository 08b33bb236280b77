from enum import StrEnum

class CertificateStatus(StrEnum):
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    FAILED = "failed"
    PENDING = "pending"
    REVOKED = "revoked"
    VALID = "valid"

    def __str__(self) -> str:
        return str(self.value)
