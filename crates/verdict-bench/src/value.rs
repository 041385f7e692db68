//! Values on the PostgreSQL wire, decoded to the text form PostgreSQL itself would print, so that
//! pgbench can bind them again. sqlx sends and asks for the binary format; only the types
//! Verdict's statements use are decoded, and any other type is an error that names it.

use anyhow::{Context as _, Result, bail};
use chrono::{DateTime, Duration, NaiveDate};

/// A column of a row description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The column's name (what pgbench's `\gset` names a variable after).
    pub name: String,
    /// The type's OID.
    pub oid: u32,
    /// 0 text, 1 binary.
    pub format: i16,
}

/// A bound parameter or a returned column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A value of type `oid` in PostgreSQL's text form.
    Text {
        /// The type's OID.
        oid: u32,
        /// The text form.
        text: String,
    },
    /// A value of a type the decoder does not know (fine unless a script must bind it).
    Opaque {
        /// The type's OID.
        oid: u32,
    },
}

#[cfg(test)]
impl Value {
    /// A non-null value.
    #[must_use]
    pub fn text(oid: u32, text: &str) -> Self {
        Self::Text { oid, text: text.to_owned() }
    }
}

/// The SQL name of a type the decoder knows, for the casts of a pgbench script.
#[must_use]
pub fn type_name(oid: u32) -> Option<&'static str> {
    Some(match oid {
        16 => "boolean",
        17 => "bytea",
        18 => "\"char\"",
        19 => "name",
        26 => "oid",
        1042 => "bpchar",
        20 => "bigint",
        21 => "smallint",
        23 => "integer",
        25 => "text",
        114 => "json",
        700 => "real",
        701 => "double precision",
        1043 => "varchar",
        1082 => "date",
        1114 => "timestamp",
        1184 => "timestamptz",
        2950 => "uuid",
        3802 => "jsonb",
        1000 => "boolean[]",
        1005 => "smallint[]",
        1007 => "integer[]",
        1009 => "text[]",
        1016 => "bigint[]",
        2951 => "uuid[]",
        1185 => "timestamptz[]",
        _ => return None,
    })
}

/// Decodes one value of type `oid` sent in `format` (0 text, 1 binary); `None` is NULL; a type
/// the decoder does not know is [`Value::Opaque`].
///
/// # Errors
/// Bytes that do not fit their type.
pub fn decode(oid: u32, format: i16, bytes: Option<&[u8]>) -> Result<Value> {
    let Some(bytes) = bytes else { return Ok(Value::Null) };
    if format == 0 {
        return Ok(Value::Text { oid, text: String::from_utf8(bytes.to_vec())? });
    }
    match binary(oid, bytes) {
        Ok(text) => Ok(Value::Text { oid, text }),
        Err(_) if type_name(oid).is_none() => Ok(Value::Opaque { oid }),
        Err(error) => Err(error),
    }
}

fn int(bytes: &[u8]) -> Result<i64> {
    Ok(match bytes.len() {
        2 => i64::from(i16::from_be_bytes(bytes.try_into()?)),
        4 => i64::from(i32::from_be_bytes(bytes.try_into()?)),
        8 => i64::from_be_bytes(bytes.try_into()?),
        n => bail!("an integer of {n} bytes"),
    })
}

fn binary(oid: u32, bytes: &[u8]) -> Result<String> {
    let epoch = NaiveDate::from_ymd_opt(2000, 1, 1).context("epoch")?;
    Ok(match oid {
        16 => (bytes.first() == Some(&1)).to_string(),
        17 => format!("\\x{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()),
        20 | 21 | 23 => int(bytes)?.to_string(),
        18 | 19 | 25 | 114 | 1042 | 1043 => String::from_utf8(bytes.to_vec())?,
        26 => u32::from_be_bytes(bytes.try_into()?).to_string(),
        3802 => {
            let (version, json) = bytes.split_first().context("empty jsonb")?;
            if *version != 1 {
                bail!("jsonb version {version}");
            }
            String::from_utf8(json.to_vec())?
        }
        700 => f32::from_be_bytes(bytes.try_into()?).to_string(),
        701 => f64::from_be_bytes(bytes.try_into()?).to_string(),
        1082 => (epoch + Duration::days(int(bytes)?)).to_string(),
        1114 | 1184 => {
            let at = epoch.and_hms_opt(0, 0, 0).context("epoch")? + Duration::microseconds(int(bytes)?);
            let at = DateTime::<chrono::Utc>::from_naive_utc_and_offset(at, chrono::Utc);
            let text = at.format("%Y-%m-%d %H:%M:%S%.6f").to_string();
            if oid == 1184 { format!("{text}+00") } else { text }
        }
        2950 => uuid::Uuid::from_slice(bytes)?.hyphenated().to_string(),
        1000 | 1005 | 1007 | 1009 | 1016 | 1185 | 2951 => array(bytes)?,
        _ => bail!("cannot decode a value of type OID {oid}; add it to verdict-bench's decoder"),
    })
}

/// A one-dimensional array in its text form, `{"a","b"}`: every element quoted, with `\` and `"`
/// escaped, which PostgreSQL reads back for any element type (text with commas or backslashes,
/// instants with spaces).
fn array(bytes: &[u8]) -> Result<String> {
    let word = |at: usize| -> Result<i32> {
        Ok(i32::from_be_bytes(bytes.get(at..at + 4).context("truncated array")?.try_into()?))
    };
    let dimensions = word(0)?;
    let element = u32::try_from(word(8)?)?;
    if dimensions == 0 {
        return Ok("{}".to_owned());
    }
    if dimensions != 1 {
        bail!("an array of {dimensions} dimensions");
    }
    let length = usize::try_from(word(12)?)?;
    let mut at = 20;
    let mut items = Vec::with_capacity(length);
    for _ in 0..length {
        let size = word(at)?;
        at += 4;
        if size < 0 {
            items.push("NULL".to_owned());
            continue;
        }
        let size = usize::try_from(size)?;
        let item = binary(element, bytes.get(at..at + size).context("truncated array element")?)?;
        at += size;
        items.push(format!("\"{}\"", item.replace('\\', "\\\\").replace('"', "\\\"")));
    }
    Ok(format!("{{{}}}", items.join(",")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_values_decode_to_postgres_text() {
        let uuid = [0x12u8, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0, 1, 2, 3, 4, 5, 6, 7];
        assert_eq!(decode(2950, 1, Some(&uuid)).unwrap(), Value::text(2950, "12345678-9abc-def0-0001-020304050607"));
        let day = 86_400_000_000i64 + 1;
        assert_eq!(
            decode(1184, 1, Some(&day.to_be_bytes())).unwrap(),
            Value::text(1184, "2000-01-02 00:00:00.000001+00")
        );
        assert_eq!(decode(3802, 1, Some(b"\x01{\"a\": 1}")).unwrap(), Value::text(3802, "{\"a\": 1}"));
        assert_eq!(decode(23, 1, Some(&(-5i32).to_be_bytes())).unwrap(), Value::text(23, "-5"));
        assert_eq!(decode(25, 0, None).unwrap(), Value::Null);
        let mut ints = Vec::new();
        for word in [1i32, 0, 20, 2, 1] {
            ints.extend_from_slice(&word.to_be_bytes());
        }
        for value in [10i64, 11] {
            ints.extend_from_slice(&8i32.to_be_bytes());
            ints.extend_from_slice(&value.to_be_bytes());
        }
        assert_eq!(decode(1016, 1, Some(&ints)).unwrap(), Value::text(1016, "{\"10\",\"11\"}"));
        let text = br#"{"a": "\"x\""}"#;
        let mut texts = Vec::new();
        for word in [1i32, 0, 25, 1, 1, i32::try_from(text.len()).unwrap()] {
            texts.extend_from_slice(&word.to_be_bytes());
        }
        texts.extend_from_slice(text);
        assert_eq!(
            decode(1009, 1, Some(&texts)).unwrap(),
            Value::text(1009, r#"{"{\"a\": \"\\\"x\\\"\"}"}"#),
            "quotes and backslashes escaped"
        );
    }

    #[test]
    fn an_unknown_type_is_kept_opaque() {
        assert_eq!(decode(600, 1, Some(b"x")).unwrap(), Value::Opaque { oid: 600 });
        assert!(decode(2950, 1, Some(b"short")).is_err());
    }
}
