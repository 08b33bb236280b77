-- The PDF standards a template version declares (`a-2b`, `ua-1`, `a-2a+ua-1`, ...): the
-- default `pdf_standard` of the jobs that pin it, checked at upload. NULL: none declared.
ALTER TABLE template_versions ADD COLUMN pdf_standard TEXT;
