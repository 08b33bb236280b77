from enum import StrEnum

class EventType(StrEnum):
    BATCH_COMPLETED = "batch.completed"
    CERTIFICATE_REVOKED = "certificate.revoked"
    JOB_CANCELLED = "job.cancelled"
    JOB_DEAD = "job.dead"
    JOB_FAILED = "job.failed"
    JOB_SUCCEEDED = "job.succeeded"
    VALUE_8 = "*"
    WORKFLOW_COMPLETED = "workflow.completed"
    WORKFLOW_FAILED = "workflow.failed"

    def __str__(self) -> str:
        return str(self.value)
