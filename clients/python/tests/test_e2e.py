"""End-to-end test of the generated Python client against a running quire.

clients/test.sh starts an embedded quire and sets QUIRE_URL and QUIRE_KEY (an admin key).
Everything goes through the generated client (package `quire_client`), as a user's code would.
"""

from __future__ import annotations

import base64
import datetime
import io
import os
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

from quire_client import AuthenticatedClient
from quire_client.api.certificates import download_batch_archive, get_batch, submit_batch, submit_certificate
from quire_client.api.jobs import download_job_file, get_job, list_jobs
from quire_client.models import CertificateRequest, ErrorBody, JobKind, JobPage, JobStatus, JobView, SubmittedView
from quire_client.types import File

PHOTO = Path(__file__).resolve().parents[2] / "fixtures" / "photo.jpg"


@pytest.fixture(scope="module")
def client() -> AuthenticatedClient:
    return AuthenticatedClient(base_url=os.environ["QUIRE_URL"], token=os.environ["QUIRE_KEY"], timeout=60.0)


def wait_finished(client: AuthenticatedClient, job_id: str) -> JobView:
    """The job once it ended (bounded: the server long-polls up to 20 s a call, 3 calls)."""
    for _ in range(3):
        job = get_job.sync(job_id, client=client, wait=20)
        assert isinstance(job, JobView), job
        if job.status in (JobStatus.SUCCEEDED, JobStatus.DEAD, JobStatus.CANCELLED):
            return job
    pytest.fail(f"job {job_id} did not finish: {job.status}")


def pdf_text(pdf: bytes) -> str:
    return subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()


def test_certificate_with_a_photo_is_rendered_and_downloaded(client: AuthenticatedClient) -> None:
    request = CertificateRequest(
        recipient_name="Grace Python",
        course_name="Generated Clients",
        photo=base64.b64encode(PHOTO.read_bytes()).decode(),
    )
    submitted = submit_certificate.sync(client=client, body=request)
    assert isinstance(submitted, SubmittedView), submitted
    job = wait_finished(client, submitted.id)
    assert job.status == JobStatus.SUCCEEDED, job.error

    pdf = download_job_file.sync(submitted.id, client=client)
    assert isinstance(pdf, File), pdf
    data = pdf.payload.read()
    assert data.startswith(b"%PDF")
    assert "Grace Python" in pdf_text(data)

    page = list_jobs.sync(client=client, status=JobStatus.SUCCEEDED, kind=JobKind.CERTIFICATE, search="Grace Python")
    assert isinstance(page, JobPage), page
    assert submitted.id in [j.id for j in page.jobs]
    assert all(j.status == JobStatus.SUCCEEDED and j.kind == JobKind.CERTIFICATE for j in page.jobs)


def test_csv_batch_and_its_archive(client: AuthenticatedClient) -> None:
    csv = "recipient_name,course_name\nAda Batch,Generated Clients\nAlan Batch,Generated Clients\n"
    batch = submit_batch.sync(client=client, body=File(payload=io.BytesIO(csv.encode()), mime_type="text/csv"))
    assert batch is not None and not isinstance(batch, ErrorBody), batch
    assert batch.total == 2
    for _ in range(3):
        batch = get_batch.sync(batch.id, client=client, wait=20)
        if batch.complete:
            break
    assert batch.complete, batch

    archive = download_batch_archive.sync(batch.id, client=client)
    assert isinstance(archive, File), archive
    with zipfile.ZipFile(archive.payload) as z:
        pdfs = [name for name in z.namelist() if name.endswith(".pdf")]
        assert len(pdfs) == 2, z.namelist()
        texts = " ".join(pdf_text(z.read(name)) for name in pdfs)
    assert "Ada Batch" in texts and "Alan Batch" in texts


def test_a_422_lists_its_problems(client: AuthenticatedClient) -> None:
    request = CertificateRequest(
        recipient_name="  ",
        course_name="x" * 1000,
        issued_on=datetime.date(2026, 11, 21),
        expires_on=datetime.date(2026, 1, 1),
    )
    response = submit_certificate.sync_detailed(client=client, body=request)
    assert response.status_code == 422
    error = response.parsed
    assert isinstance(error, ErrorBody), error
    problems = {(p.field, p.code) for p in error.error.errors}
    assert ("recipient_name", "missing_field") in problems, problems
    assert ("course_name", "too_long") in problems, problems
    assert ("expires_on", "dates_out_of_order") in problems, problems
