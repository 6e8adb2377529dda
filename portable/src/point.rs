//! The point model shared by every crate: a measurement, sorted tags, typed
//! fields and a nanosecond timestamp, as InfluxDB 1.x models it.

use std::fmt;

/// A field value. InfluxDB 1.x has exactly these five field types.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// 64-bit float (line protocol `1.5`, `1`, `1e-09`).
    Float(f64),
    /// Signed 64-bit integer (line protocol `1i`).
    Integer(i64),
    /// Unsigned 64-bit integer (line protocol `1u`).
    Unsigned(u64),
    /// Boolean (line protocol `t`, `true`, `F`, ...).
    Boolean(bool),
    /// UTF-8 string (line protocol `"text"`).
    String(String),
}

impl FieldValue {
    /// The field's type.
    pub fn field_type(&self) -> FieldType {
        match self {
            FieldValue::Float(_) => FieldType::Float,
            FieldValue::Integer(_) => FieldType::Integer,
            FieldValue::Unsigned(_) => FieldType::Unsigned,
            FieldValue::Boolean(_) => FieldType::Boolean,
            FieldValue::String(_) => FieldType::String,
        }
    }
}

/// A field type, numbered as TSM block types are (InfluxDB `tsm1` constants).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum FieldType {
    /// TSM block type 0.
    Float = 0,
    /// TSM block type 1.
    Integer = 1,
    /// TSM block type 2.
    Boolean = 2,
    /// TSM block type 3.
    String = 3,
    /// TSM block type 4.
    Unsigned = 4,
}

impl FieldType {
    /// The type for a TSM block-type byte, if it is one.
    pub fn from_block_type(b: u8) -> Option<FieldType> {
        Some(match b {
            0 => FieldType::Float,
            1 => FieldType::Integer,
            2 => FieldType::Boolean,
            3 => FieldType::String,
            4 => FieldType::Unsigned,
            _ => return None,
        })
    }

    /// The name InfluxQL uses (`SHOW FIELD KEYS`).
    pub fn influxql_name(self) -> &'static str {
        match self {
            FieldType::Float => "float",
            FieldType::Integer => "integer",
            FieldType::Boolean => "boolean",
            FieldType::String => "string",
            FieldType::Unsigned => "unsigned",
        }
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.influxql_name())
    }
}

/// One point: what a line of line protocol describes.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Measurement name, unescaped.
    pub measurement: String,
    /// Tags, unescaped, sorted by key, keys unique, no empty values.
    pub tags: Vec<(String, String)>,
    /// Fields, unescaped, in line order (a later duplicate key wins on write).
    pub fields: Vec<(String, FieldValue)>,
    /// Nanoseconds since the Unix epoch.
    pub time: i64,
}

impl Point {
    /// The escaped series key: `measurement,tag1=v1,tag2=v2` (tags sorted).
    pub fn series_key(&self) -> String {
        crate::key::series_key(&self.measurement, &self.tags)
    }
}
