//! EC2 calls, as the Query protocol sends them and signed with SigV4: the local stack (its
//! Production Auto Scaling group's launch template) and the tests need two of them, which does
//! not justify building the whole EC2 SDK.

use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};

/// POST one EC2 Query action (`Action`, `Version` and `params`) to `endpoint`; the XML answer,
/// or the status and body when it is not a success.
pub async fn ec2_query(
    endpoint: &str,
    action: &str,
    params: &[(&str, &str)],
) -> Result<String, String> {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("Action", action)
        .append_pair("Version", "2016-11-15");
    for (k, v) in params {
        form.append_pair(k, v);
    }
    let body = form.finish();
    let identity =
        aws_credential_types::Credentials::new("testing", "testing", None, None, "tests").into();
    let signing = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("ec2")
        .time(std::time::SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    let url = format!("{}/", endpoint.trim_end_matches('/'));
    let signable = SignableRequest::new(
        "POST",
        &url,
        [("content-type", content_type)].into_iter(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .map_err(|e| e.to_string())?;
    let (instructions, _) = sign(signable, &signing)
        .map_err(|e| e.to_string())?
        .into_parts();
    let mut request = reqwest::Client::new()
        .post(&url)
        .header("content-type", content_type)
        .body(body);
    for (header, value) in instructions.headers() {
        request = request.header(header, value);
    }
    let response = request.send().await.map_err(|e| format!("{action}: {e}"))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| format!("{action}: {e}"))?;
    if status.is_success() {
        Ok(text)
    } else {
        Err(format!("{action}: {status} {text}"))
    }
}

/// The text of the first `<tag>` element in `xml`, if any.
pub fn xml_text<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = xml[start..].find(&format!("</{tag}>"))?;
    Some(&xml[start..start + end])
}

/// A launch template of one version (image and instance type); returns its id.
pub async fn create_launch_template(endpoint: &str, name: &str) -> Result<String, String> {
    let xml = ec2_query(
        endpoint,
        "CreateLaunchTemplate",
        &[
            ("LaunchTemplateName", name),
            ("LaunchTemplateData.ImageId", "ami-12c6146b"),
            ("LaunchTemplateData.InstanceType", "t3.micro"),
        ],
    )
    .await?;
    xml_text(&xml, "launchTemplateId")
        .map(str::to_string)
        .ok_or_else(|| format!("CreateLaunchTemplate: no launchTemplateId in {xml}"))
}
