from enum import StrEnum

class CertificateSort(StrEnum):
    CREATED_AT = "created_at"
    ISSUED_ON = "issued_on"
    VALUE_0 = "-created_at"
    VALUE_2 = "-issued_on"

    def __str__(self) -> str:
        return str(self.value)
