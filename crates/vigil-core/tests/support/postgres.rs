//! A PostgreSQL database of its own for one test, on the machine's server (127.0.0.1:5432, or
//! `VIGIL_TEST_POSTGRES_URL`), dropped with its connections when the test ends. Shared by the
//! tests of vigil-core and vigil-server.
#![allow(dead_code)]

/// The server the tests create their databases in.
pub fn admin_url() -> String {
    std::env::var("VIGIL_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database for one test.
pub struct TestDatabase {
    name: String,
    /// Its URL, for `--database-url`.
    pub url: String,
}

impl TestDatabase {
    /// Creates an empty database.
    pub fn create() -> TestDatabase {
        let name = format!("vigil_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = ::postgres::Client::connect(&admin_url(), ::postgres::NoTls)
            .expect("PostgreSQL on 127.0.0.1:5432 (set VIGIL_TEST_POSTGRES_URL to use another)");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        let base = admin_url();
        let server = &base[..base.rfind('/').unwrap()];
        TestDatabase {
            url: format!("{server}/{name}?sslmode=disable"),
            name,
        }
    }

    /// A connection to it, to look behind vigil's back.
    pub fn connect(&self) -> ::postgres::Client {
        ::postgres::Client::connect(&self.url, ::postgres::NoTls).unwrap()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Ok(mut admin) = ::postgres::Client::connect(&admin_url(), ::postgres::NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}
