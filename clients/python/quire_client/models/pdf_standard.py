from enum import StrEnum

class PdfStandard(StrEnum):
    A_1A = "a-1a"
    A_1AUA_1 = "a-1a+ua-1"
    A_1B = "a-1b"
    A_1BUA_1 = "a-1b+ua-1"
    A_2A = "a-2a"
    A_2AUA_1 = "a-2a+ua-1"
    A_2B = "a-2b"
    A_2BUA_1 = "a-2b+ua-1"
    A_2U = "a-2u"
    A_2UUA_1 = "a-2u+ua-1"
    A_3A = "a-3a"
    A_3AUA_1 = "a-3a+ua-1"
    A_3B = "a-3b"
    A_3BUA_1 = "a-3b+ua-1"
    A_3U = "a-3u"
    A_3UUA_1 = "a-3u+ua-1"
    A_4 = "a-4"
    A_4E = "a-4e"
    A_4F = "a-4f"
    UA_1 = "ua-1"

    def __str__(self) -> str:
        return str(self.value)
