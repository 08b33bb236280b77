from enum import StrEnum

class EmailTemplateName(StrEnum):
    CERTIFICATE_ISSUED = "certificate_issued"
    GENERIC = "generic"
    JOB_FAILED = "job_failed"
    REPORT_READY = "report_ready"
    WEBHOOK_DISABLED = "webhook_disabled"

    def __str__(self) -> str:
        return str(self.value)
