//! E-mail through Amazon SES (v2 `SendEmail`): what registration sends. Messages carry no
//! patient data; the link in a verification message is the only secret and is never logged.

use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};

use crate::config::{ConfigError, Vars};
use crate::{Error, Result};

/// Sends CareFlow's messages from one verified sender.
#[derive(Clone, Debug)]
pub struct Mailer {
    client: Client,
    from: String,
    portal_url: String,
}

impl Mailer {
    pub fn new(client: Client, from: String, portal_url: String) -> Self {
        Self {
            client,
            from,
            portal_url: portal_url.trim_end_matches('/').to_owned(),
        }
    }

    /// `CAREFLOW_EMAIL_FROM` (an address of a verified SES identity) and `CAREFLOW_PORTAL_URL`
    /// (where links in messages point).
    pub async fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        let from = vars.required("CAREFLOW_EMAIL_FROM")?;
        if !from.contains('@') {
            return Err(ConfigError::Invalid {
                name: "CAREFLOW_EMAIL_FROM",
                message: "must be an e-mail address".into(),
            });
        }
        let portal_url = vars.required("CAREFLOW_PORTAL_URL")?;
        if !portal_url.starts_with("https://") && !portal_url.starts_with("http://") {
            return Err(ConfigError::Invalid {
                name: "CAREFLOW_PORTAL_URL",
                message: "must be an http(s) URL".into(),
            });
        }
        let sdk = vars.aws().await;
        Ok(Self::new(Client::new(&sdk), from, portal_url))
    }

    /// The portal page a link opens, with `token` in its fragment (fragments are not sent to
    /// servers, so the token stays out of access logs).
    pub fn portal_link(&self, page: &str, token: &str) -> String {
        format!("{}/#/{page}?token={token}", self.portal_url)
    }

    /// Sends a plain-text message to one address.
    pub async fn send(&self, to: &str, subject: &str, text: &str) -> Result<()> {
        let content = |data: &str| {
            Content::builder()
                .data(data)
                .charset("UTF-8")
                .build()
                .map_err(Error::internal)
        };
        let message = Message::builder()
            .subject(content(subject)?)
            .body(Body::builder().text(content(text)?).build())
            .build();
        self.client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(to).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|e| not_sent(&e))?;
        Ok(())
    }

    /// Sends a plain-text message with one attachment (a MIME message through SES's raw
    /// content: SES's simple content carries no attachments in every region and the emulator
    /// ignores them).
    #[cfg(feature = "notifications")]
    pub async fn send_with_attachment(
        &self,
        to: &str,
        subject: &str,
        text: &str,
        attachment: &Attachment<'_>,
    ) -> Result<()> {
        use aws_sdk_sesv2::primitives::Blob;
        use aws_sdk_sesv2::types::RawMessage;
        let mime = mail_builder::MessageBuilder::new()
            .from(self.from.as_str())
            .to(to)
            .subject(subject)
            .text_body(text)
            .attachment(
                attachment.content_type,
                attachment.filename,
                attachment.content,
            )
            .write_to_vec()
            .map_err(Error::internal)?;
        let raw = RawMessage::builder()
            .data(Blob::new(mime))
            .build()
            .map_err(Error::internal)?;
        self.client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(to).build())
            .content(EmailContent::builder().raw(raw).build())
            .send()
            .await
            .map_err(|e| not_sent(&e))?;
        Ok(())
    }

    pub fn portal_url(&self) -> &str {
        &self.portal_url
    }
}

/// Why SES did not send a message: only its error code (SES's messages can quote the
/// recipient's address).
#[derive(Debug, thiserror::Error)]
#[error("e-mail not sent: {code}")]
pub struct NotSent {
    pub code: String,
}

impl NotSent {
    /// SES refused this message for good (an unverified recipient in the sandbox, a malformed
    /// message, an unverified sender domain): sending it again cannot work, unlike throttling
    /// or an outage.
    pub fn permanent(&self) -> bool {
        matches!(
            self.code.as_str(),
            "MessageRejected" | "BadRequestException" | "MailFromDomainNotVerifiedException"
        )
    }

    /// The refusal inside `error`, if it is one.
    pub fn of(error: &Error) -> Option<&NotSent> {
        match error {
            Error::Unavailable(source) => source.downcast_ref(),
            _ => None,
        }
    }
}

/// SES's refusal as a (retryable) [`Error::Unavailable`] carrying a [`NotSent`].
fn not_sent<E: aws_sdk_sesv2::error::ProvideErrorMetadata>(e: &E) -> Error {
    let code = e.code().unwrap_or("no error code").to_owned();
    Error::Unavailable(Box::new(NotSent { code }))
}

/// A file attached to a message.
#[cfg(feature = "notifications")]
pub struct Attachment<'a> {
    pub filename: &'a str,
    pub content_type: &'a str,
    pub content: &'a [u8],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_for_good_are_told_from_ones_worth_retrying() {
        let refused = |code: &str| Error::Unavailable(Box::new(NotSent { code: code.into() }));
        for code in [
            "MessageRejected",
            "BadRequestException",
            "MailFromDomainNotVerifiedException",
        ] {
            assert!(NotSent::of(&refused(code)).unwrap().permanent(), "{code}");
        }
        for code in [
            "TooManyRequestsException",
            "LimitExceededException",
            "InternalFailure",
            "AccessDeniedException",
        ] {
            assert!(!NotSent::of(&refused(code)).unwrap().permanent(), "{code}");
        }
        assert!(NotSent::of(&Error::Unavailable("database down".into())).is_none());
        assert!(NotSent::of(&Error::Forbidden).is_none());
    }
}
