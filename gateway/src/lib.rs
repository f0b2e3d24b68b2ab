pub mod metering;
