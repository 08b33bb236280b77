""" Contains all the data models used in inputs/outputs """

from .batch_item import BatchItem
from .batch_item_fields_type_0 import BatchItemFieldsType0
from .batch_links import BatchLinks
from .batch_page import BatchPage
from .batch_request import BatchRequest
from .batch_view import BatchView
from .batch_view_counts import BatchViewCounts
from .bundle_request import BundleRequest
from .cache_cleared import CacheCleared
from .cache_health_view import CacheHealthView
from .cache_stats_view import CacheStatsView
from .cache_tier_view import CacheTierView
from .callback_secret import CallbackSecret
from .certificate_page import CertificatePage
from .certificate_request import CertificateRequest
from .certificate_request_fields_type_0 import CertificateRequestFieldsType0
from .certificate_sort import CertificateSort
from .certificate_status import CertificateStatus
from .certificate_view import CertificateView
from .check_view import CheckView
from .create_webhook import CreateWebhook
from .deleted import Deleted
from .delivery_page import DeliveryPage
from .delivery_view import DeliveryView
from .delivery_view_payload import DeliveryViewPayload
from .did_document import DidDocument
from .edge_view import EdgeView
from .email_request import EmailRequest
from .email_request_vars import EmailRequestVars
from .email_template_name import EmailTemplateName
from .equipment_input import EquipmentInput
from .error_body import ErrorBody
from .error_detail import ErrorDetail
from .event_gap import EventGap
from .event_type import EventType
from .event_view import EventView
from .field_error import FieldError
from .field_spec import FieldSpec
from .field_type import FieldType
from .field_view import FieldView
from .gap_stream_event import GapStreamEvent
from .health import Health
from .history_entry_view import HistoryEntryView
from .image_input import ImageInput
from .job_error_view import JobErrorView
from .job_history import JobHistory
from .job_kind import JobKind
from .job_page import JobPage
from .job_result_view import JobResultView
from .job_status import JobStatus
from .job_stream_event import JobStreamEvent
from .job_view import JobView
from .job_view_summary_type_0 import JobViewSummaryType0
from .links import Links
from .notify import Notify
from .on_parent_failure import OnParentFailure
from .pdf_signature import PdfSignature
from .pdf_standard import PdfStandard
from .preview_request import PreviewRequest
from .preview_request_fields_type_0 import PreviewRequestFieldsType0
from .priority import Priority
from .priority_choice import PriorityChoice
from .public_jwk import PublicJwk
from .punch_input import PunchInput
from .queue_counts import QueueCounts
from .queue_counts_jobs import QueueCountsJobs
from .recorded_health import RecordedHealth
from .recorded_summary import RecordedSummary
from .report_request import ReportRequest
from .revoke_request import RevokeRequest
from .row_input import RowInput
from .schedule_list import ScheduleList
from .schedule_view import ScheduleView
from .section_input import SectionInput
from .signoff_input import SignoffInput
from .status_view import StatusView
from .step_batch import StepBatch
from .step_kind import StepKind
from .step_request import StepRequest
from .step_view import StepView
from .step_view_counts import StepViewCounts
from .submitted_view import SubmittedView
from .template_diagnostic import TemplateDiagnostic
from .template_kind import TemplateKind
from .template_list import TemplateList
from .template_request import TemplateRequest
from .template_request_assets import TemplateRequestAssets
from .template_update import TemplateUpdate
from .template_update_assets_type_0 import TemplateUpdateAssetsType0
from .template_view import TemplateView
from .template_view_assets_type_0 import TemplateViewAssetsType0
from .text_section_input import TextSectionInput
from .update_webhook import UpdateWebhook
from .verification import Verification
from .verification_method import VerificationMethod
from .webhook_links import WebhookLinks
from .webhook_list import WebhookList
from .webhook_view import WebhookView
from .worker_view import WorkerView
from .worker_view_queues import WorkerViewQueues
from .workflow_links import WorkflowLinks
from .workflow_page import WorkflowPage
from .workflow_request import WorkflowRequest
from .workflow_status import WorkflowStatus
from .workflow_view import WorkflowView

__all__ = (
    "BatchItem",
    "BatchItemFieldsType0",
    "BatchLinks",
    "BatchPage",
    "BatchRequest",
    "BatchView",
    "BatchViewCounts",
    "BundleRequest",
    "CacheCleared",
    "CacheHealthView",
    "CacheStatsView",
    "CacheTierView",
    "CallbackSecret",
    "CertificatePage",
    "CertificateRequest",
    "CertificateRequestFieldsType0",
    "CertificateSort",
    "CertificateStatus",
    "CertificateView",
    "CheckView",
    "CreateWebhook",
    "Deleted",
    "DeliveryPage",
    "DeliveryView",
    "DeliveryViewPayload",
    "DidDocument",
    "EdgeView",
    "EmailRequest",
    "EmailRequestVars",
    "EmailTemplateName",
    "EquipmentInput",
    "ErrorBody",
    "ErrorDetail",
    "EventGap",
    "EventType",
    "EventView",
    "FieldError",
    "FieldSpec",
    "FieldType",
    "FieldView",
    "GapStreamEvent",
    "Health",
    "HistoryEntryView",
    "ImageInput",
    "JobErrorView",
    "JobHistory",
    "JobKind",
    "JobPage",
    "JobResultView",
    "JobStatus",
    "JobStreamEvent",
    "JobView",
    "JobViewSummaryType0",
    "Links",
    "Notify",
    "OnParentFailure",
    "PdfSignature",
    "PdfStandard",
    "PreviewRequest",
    "PreviewRequestFieldsType0",
    "Priority",
    "PriorityChoice",
    "PublicJwk",
    "PunchInput",
    "QueueCounts",
    "QueueCountsJobs",
    "RecordedHealth",
    "RecordedSummary",
    "ReportRequest",
    "RevokeRequest",
    "RowInput",
    "ScheduleList",
    "ScheduleView",
    "SectionInput",
    "SignoffInput",
    "StatusView",
    "StepBatch",
    "StepKind",
    "StepRequest",
    "StepView",
    "StepViewCounts",
    "SubmittedView",
    "TemplateDiagnostic",
    "TemplateKind",
    "TemplateList",
    "TemplateRequest",
    "TemplateRequestAssets",
    "TemplateUpdate",
    "TemplateUpdateAssetsType0",
    "TemplateView",
    "TemplateViewAssetsType0",
    "TextSectionInput",
    "UpdateWebhook",
    "Verification",
    "VerificationMethod",
    "WebhookLinks",
    "WebhookList",
    "WebhookView",
    "WorkerView",
    "WorkerViewQueues",
    "WorkflowLinks",
    "WorkflowPage",
    "WorkflowRequest",
    "WorkflowStatus",
    "WorkflowView",
)
