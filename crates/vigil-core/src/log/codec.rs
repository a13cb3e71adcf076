//! How event bodies are stored: each event's JSON as one zstd frame made with a dictionary
//! trained from the log itself, or as plain text before there is one. Dictionaries are
//! versioned: a row names the one it was made with (`codec`), and a dictionary, once stored, is
//! never changed or removed. Decoding gives back exactly the stored JSON the chain covers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use rusqlite::types::{Type, ValueRef};
use rusqlite::{Connection, OptionalExtension};
use zstd::zstd_safe::{CCtx, CDict, CParameter, DCtx, DDict};

/// The codec of a body stored as its plain JSON text.
pub const PLAIN: i64 = 0;
/// The size a trained dictionary may reach. Measured on the seed's mix (~2 kB events): 16 KiB
/// gives 123 bytes per event, 64 KiB 110, 110 KiB 105; blocks of 64 events without a
/// dictionary 141 (and lose reading one event without its neighbours).
const DICTIONARY_BYTES: usize = 64 * 1024;
/// zstd's level: higher levels gained nothing on these events (level 9: 112 bytes per event).
const LEVEL: i32 = 3;
/// The largest body a frame may claim to hold; a damaged header claiming more is refused rather
/// than allocated.
const MAX_BODY_BYTES: u64 = 256 * 1024 * 1024;

/// One stored dictionary, prepared for both directions.
struct Dictionary {
    id: i64,
    compress: CDict<'static>,
    decompress: DDict<'static>,
}

/// The dictionaries of one log, with pooled compression contexts. Shared by the writer, the
/// readers and the compactor.
#[derive(Default)]
pub struct Codecs {
    dictionaries: RwLock<HashMap<i64, Arc<Dictionary>>>,
    current: RwLock<Option<Arc<Dictionary>>>,
    compressors: Mutex<Vec<CCtx<'static>>>,
    decompressors: Mutex<Vec<DCtx<'static>>>,
}

impl Codecs {
    /// The dictionaries stored in the database (none in a database from before they existed).
    pub fn load(connection: &Connection) -> rusqlite::Result<Codecs> {
        let codecs = Codecs::default();
        if !has_dictionary_table(connection)? {
            return Ok(codecs);
        }
        let mut statement = connection.prepare("SELECT id, bytes FROM body_dictionaries")?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            // A dictionary altered into text is still loaded: the bodies made with it then fail
            // to decode or to match the chain, and `verify` names them.
            if let ValueRef::Blob(bytes) | ValueRef::Text(bytes) = row.get_ref(1)? {
                codecs.install(row.get(0)?, bytes);
            }
        }
        Ok(codecs)
    }

    /// Codecs with these stored dictionaries (id and bytes), as another backend reads them.
    pub fn from_stored(dictionaries: impl IntoIterator<Item = (i64, Vec<u8>)>) -> Codecs {
        let codecs = Codecs::default();
        for (id, bytes) in dictionaries {
            codecs.install(id, &bytes);
        }
        codecs
    }

    /// Makes a stored dictionary usable; the newest one compresses new bodies. Returns whether
    /// zstd accepted it.
    pub fn install(&self, id: i64, bytes: &[u8]) -> bool {
        let (Some(compress), Some(decompress)) =
            (CDict::try_create(bytes, LEVEL), DDict::try_create(bytes))
        else {
            tracing::error!(dictionary = id, "a stored body dictionary cannot be loaded");
            return false;
        };
        let dictionary = Arc::new(Dictionary {
            id,
            compress,
            decompress,
        });
        self.dictionaries
            .write()
            .expect("dictionaries lock")
            .insert(id, dictionary.clone());
        let mut current = self.current.write().expect("current dictionary lock");
        if current.as_ref().is_none_or(|known| known.id < id) {
            *current = Some(dictionary);
        }
        true
    }

    /// The dictionary new bodies are compressed with, if one was trained.
    pub fn current_id(&self) -> Option<i64> {
        self.current
            .read()
            .expect("current dictionary lock")
            .as_ref()
            .map(|dictionary| dictionary.id)
    }

    /// `json` compressed with the newest dictionary: its codec and bytes; `None` when there is no
    /// dictionary yet (the body is then stored as plain text).
    pub fn encode(&self, json: &[u8]) -> Option<(i64, Vec<u8>)> {
        let dictionary = self
            .current
            .read()
            .expect("current dictionary lock")
            .clone()?;
        let pooled = self.compressors.lock().expect("compressor pool lock").pop();
        let mut context = match pooled {
            Some(context) => context,
            None => {
                let mut context = CCtx::create();
                // The row names its dictionary; the frame need not repeat it.
                context.set_parameter(CParameter::DictIdFlag(false)).ok()?;
                context
                    .set_parameter(CParameter::ContentSizeFlag(true))
                    .ok()?;
                context
            }
        };
        let mut compressed = Vec::with_capacity(zstd::zstd_safe::compress_bound(json.len()));
        let result = context
            .ref_cdict(&dictionary.compress)
            .and_then(|_| context.compress2(&mut compressed, json));
        self.compressors
            .lock()
            .expect("compressor pool lock")
            .push(context);
        result.ok().map(|_| (dictionary.id, compressed))
    }

    /// The stored JSON of a row's `body` and `codec`. Dictionaries stored after this process
    /// loaded its own (by another process) are read from `connection` when first met.
    pub fn decode(
        &self,
        connection: &Connection,
        codec: i64,
        body: ValueRef<'_>,
    ) -> Result<Vec<u8>, String> {
        match (codec, body) {
            (PLAIN, ValueRef::Text(text) | ValueRef::Blob(text)) => Ok(text.to_vec()),
            (PLAIN, other) => Err(format!(
                "a plain body is stored as {}, not text",
                other.data_type()
            )),
            (codec, ValueRef::Blob(frame)) => self.decode_bytes(codec, frame, &mut |codec| {
                stored_dictionary(connection, codec)
            }),
            (codec, other) => Err(format!(
                "a body of codec {codec} is stored as {}, not bytes",
                other.data_type()
            )),
        }
    }

    /// The stored JSON of a body held as bytes whatever its codec (as PostgreSQL holds it).
    /// `load` reads a dictionary this process has not loaded yet: `Ok(None)` when none is stored.
    pub fn decode_bytes(
        &self,
        codec: i64,
        body: &[u8],
        load: &mut dyn FnMut(i64) -> Result<Option<Vec<u8>>, String>,
    ) -> Result<Vec<u8>, String> {
        if codec == PLAIN {
            return Ok(body.to_vec());
        }
        let dictionary = self.dictionary(codec, load)?;
        self.decompress(&dictionary, body)
    }

    /// [`Codecs::decode`] as text, for reading rows (column `column` holds the body).
    pub fn decode_text(
        &self,
        connection: &Connection,
        codec: i64,
        body: ValueRef<'_>,
        column: usize,
    ) -> rusqlite::Result<String> {
        let failure = |problem: String| {
            rusqlite::Error::FromSqlConversionFailure(column, Type::Blob, problem.into())
        };
        let bytes = self.decode(connection, codec, body).map_err(failure)?;
        String::from_utf8(bytes).map_err(|error| failure(error.to_string()))
    }

    fn decompress(&self, dictionary: &Dictionary, frame: &[u8]) -> Result<Vec<u8>, String> {
        let size = match zstd::zstd_safe::get_frame_content_size(frame) {
            Ok(Some(size)) if size <= MAX_BODY_BYTES => size as usize,
            Ok(Some(size)) => return Err(format!("a body claims {size} bytes")),
            Ok(None) | Err(_) => return Err("a compressed body has no readable header".into()),
        };
        let pooled = self
            .decompressors
            .lock()
            .expect("decompressor pool lock")
            .pop();
        let mut context = pooled.unwrap_or_else(DCtx::create);
        let mut json = Vec::with_capacity(size);
        let result = context.decompress_using_ddict(&mut json, frame, &dictionary.decompress);
        self.decompressors
            .lock()
            .expect("decompressor pool lock")
            .push(context);
        match result {
            Ok(written) if written == size => Ok(json),
            Ok(written) => Err(format!(
                "a compressed body gave {written} bytes where its header says {size}"
            )),
            Err(code) => Err(format!(
                "a compressed body cannot be decompressed: {}",
                zstd::zstd_safe::get_error_name(code)
            )),
        }
    }

    fn dictionary(
        &self,
        codec: i64,
        load: &mut dyn FnMut(i64) -> Result<Option<Vec<u8>>, String>,
    ) -> Result<Arc<Dictionary>, String> {
        if let Some(known) = self
            .dictionaries
            .read()
            .expect("dictionaries lock")
            .get(&codec)
        {
            return Ok(known.clone());
        }
        let bytes = load(codec)?.ok_or_else(|| format!("dictionary {codec} is not stored"))?;
        if !self.install(codec, &bytes) {
            return Err(format!("dictionary {codec} cannot be loaded"));
        }
        self.dictionaries
            .read()
            .expect("dictionaries lock")
            .get(&codec)
            .cloned()
            .ok_or_else(|| format!("dictionary {codec} cannot be used"))
    }
}

/// Dictionary `codec` as stored in the SQLite database.
fn stored_dictionary(connection: &Connection, codec: i64) -> Result<Option<Vec<u8>>, String> {
    connection
        .query_row(
            "SELECT CAST(bytes AS BLOB) FROM body_dictionaries WHERE id = ?1",
            [codec],
            |row| row.get(0),
        )
        .optional()
        .map_err(|error| format!("dictionary {codec} cannot be read: {error}"))
}

/// A dictionary trained from sample bodies: at most [`DICTIONARY_BYTES`], and smaller when the
/// samples are few (zstd wants samples of many times the dictionary's size).
pub fn train(samples: &[Vec<u8>]) -> std::io::Result<Vec<u8>> {
    let sample_bytes: usize = samples.iter().map(Vec::len).sum();
    let size = (sample_bytes / 16).clamp(1024, DICTIONARY_BYTES);
    zstd::dict::from_samples(samples, size)
}

/// Whether the database has the dictionaries' table (a database of schema 5 or older opened
/// read-only does not).
fn has_dictionary_table(connection: &Connection) -> rusqlite::Result<bool> {
    connection
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'body_dictionaries'",
            [],
            |_| Ok(()),
        )
        .optional()
        .map(|found| found.is_some())
}
