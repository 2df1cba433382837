# The web portal (web/): its built files in a private S3 bucket, served only through CloudFront
# with origin access control, HTTPS only and a response-headers policy (HSTS, CSP, nosniff, frame
# and referrer policies). config.js, which tells the portal where the API is, is written here per
# environment; `aws s3 sync web/dist s3://BUCKET --exclude config.js` publishes the rest.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  connect_src = join(" ", concat(["'self'", var.api_url], var.upload_origins))
  csp = join("; ", [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src ${local.connect_src}",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "upgrade-insecure-requests",
  ])
}

resource "aws_s3_bucket" "this" {
  # checkov:skip=CKV_AWS_18: static build output, reproducible from git; CloudFront serves every read and CloudTrail data events cover writes.
  # checkov:skip=CKV_AWS_144: static build output, reproducible from git; cross-region replication is not worth its cost (CloudFront caches at the edge).
  # checkov:skip=CKV2_AWS_62: nothing consumes object-created events of the portal's files.
  # checkov:skip=CKV_AWS_145: public static assets; SSE-S3 keeps CloudFront's origin access control simple (SSE-KMS would need a key policy for CloudFront and buys nothing for public files).
  bucket = "${var.name}-web-${data.aws_caller_identity.current.account_id}-${data.aws_region.current.name}"
  tags   = var.tags
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket                  = aws_s3_bucket.this.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    id     = "expire-superseded-builds"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

resource "aws_cloudfront_origin_access_control" "this" {
  name                              = "${var.name}-web"
  description                       = "CloudFront reads the CareFlow portal bucket"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

data "aws_iam_policy_document" "bucket" {
  statement {
    sid       = "CloudFrontReadsThroughOriginAccessControl"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.this.arn}/*"]
    principals {
      type        = "Service"
      identifiers = ["cloudfront.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "AWS:SourceArn"
      values   = [aws_cloudfront_distribution.this.arn]
    }
  }
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.this.arn,
      "${aws_s3_bucket.this.arn}/*",
    ]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket     = aws_s3_bucket.this.id
  policy     = data.aws_iam_policy_document.bucket.json
  depends_on = [aws_s3_bucket_public_access_block.this]
}

resource "aws_cloudfront_response_headers_policy" "this" {
  name    = "${var.name}-web-security-headers"
  comment = "Security headers of the CareFlow portal"

  security_headers_config {
    strict_transport_security {
      access_control_max_age_sec = 63072000
      include_subdomains         = true
      preload                    = true
      override                   = true
    }
    content_security_policy {
      content_security_policy = local.csp
      override                = true
    }
    content_type_options {
      override = true
    }
    frame_options {
      frame_option = "DENY"
      override     = true
    }
    referrer_policy {
      referrer_policy = "strict-origin-when-cross-origin"
      override        = true
    }
    xss_protection {
      protection = true
      mode_block = true
      override   = true
    }
  }

  custom_headers_config {
    items {
      header   = "Permissions-Policy"
      value    = "camera=(), microphone=(), geolocation=()"
      override = true
    }
  }
}

data "aws_cloudfront_cache_policy" "optimized" {
  name = "Managed-CachingOptimized"
}

resource "aws_cloudfront_distribution" "this" {
  # checkov:skip=CKV_AWS_68: a static portal with no server-side logic behind it; the API it calls has its own throttling, so a WAF here would only add cost.
  # checkov:skip=CKV_AWS_86: static files only; API Gateway logs every request that matters and CloudTrail covers changes.
  # checkov:skip=CKV_AWS_310: a single S3 origin; an origin failover group would need a replicated second bucket for static files rebuilt from git.
  # checkov:skip=CKV_AWS_374: the portal is for clinics and patients anywhere; no geo restriction.
  # checkov:skip=CKV2_AWS_47: no WAF (see CKV_AWS_68), so no Log4j AMR rule either.
  # checkov:skip=CKV2_AWS_32: the response headers policy is attached to the default cache behaviour below.
  # checkov:skip=CKV2_AWS_42: the certificate is optional (var.certificate_arn); without it the portal is served on its cloudfront.net name over HTTPS.
  enabled             = true
  is_ipv6_enabled     = true
  comment             = "${var.name} web portal"
  default_root_object = "index.html"
  price_class         = var.price_class
  aliases             = var.aliases
  http_version        = "http2and3"
  tags                = var.tags

  origin {
    origin_id                = "portal"
    domain_name              = aws_s3_bucket.this.bucket_regional_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.this.id
  }

  default_cache_behavior {
    target_origin_id           = "portal"
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = data.aws_cloudfront_cache_policy.optimized.id
    response_headers_policy_id = aws_cloudfront_response_headers_policy.this.id
  }

  # The portal routes with the URL's hash, so every real path is a file; a missing one is a 404.
  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = var.certificate_arn == null
    acm_certificate_arn            = var.certificate_arn
    ssl_support_method             = var.certificate_arn == null ? null : "sni-only"
    minimum_protocol_version       = var.certificate_arn == null ? "TLSv1" : "TLSv1.2_2021"
  }
}

# Where the portal finds the API in this environment; short-lived in caches so a change shows
# within a minute.
resource "aws_s3_object" "config" {
  bucket        = aws_s3_bucket.this.id
  key           = "config.js"
  content_type  = "text/javascript; charset=utf-8"
  cache_control = "public, max-age=${var.config_max_age_seconds}, must-revalidate"
  content       = "window.CAREFLOW_CONFIG = ${jsonencode({ apiBaseUrl = var.api_url })};\n"
  tags          = var.tags
}
