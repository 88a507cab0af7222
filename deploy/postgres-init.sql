-- One database and one login role per Atelier service (a service never reads another
-- service's tables, so it cannot even connect to another service's database).
--
-- Run once by the postgres image on an empty data directory (docker-compose mounts it in
-- /docker-entrypoint-initdb.d/), as the superuser, with psql >= 15. Passwords come from the
-- container's environment (ATELIER_<SERVICE>_DB_PASSWORD) with development defaults.
-- Extensions the migrations need are created here because creating them may require
-- more privileges than a service's role has.

\set ON_ERROR_STOP on

-- customer: profiles, contacts, consent, purchases, timeline; trigram search.
\getenv customer_password ATELIER_CUSTOMER_DB_PASSWORD
\if :{?customer_password}
\else
\set customer_password 'atelier-customer-dev'
\endif
CREATE ROLE atelier_customer LOGIN PASSWORD :'customer_password';
CREATE DATABASE atelier_customer OWNER atelier_customer;
REVOKE ALL ON DATABASE atelier_customer FROM PUBLIC;
\connect atelier_customer
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- associate: stores, associates, assignments, tasks.
\getenv associate_password ATELIER_ASSOCIATE_DB_PASSWORD
\if :{?associate_password}
\else
\set associate_password 'atelier-associate-dev'
\endif
CREATE ROLE atelier_associate LOGIN PASSWORD :'associate_password';
CREATE DATABASE atelier_associate OWNER atelier_associate;
REVOKE ALL ON DATABASE atelier_associate FROM PUBLIC;

-- appointments: bookings that never overlap (exclusion constraint needs btree_gist).
\getenv appointments_password ATELIER_APPOINTMENTS_DB_PASSWORD
\if :{?appointments_password}
\else
\set appointments_password 'atelier-appointments-dev'
\endif
CREATE ROLE atelier_appointments LOGIN PASSWORD :'appointments_password';
CREATE DATABASE atelier_appointments OWNER atelier_appointments;
REVOKE ALL ON DATABASE atelier_appointments FROM PUBLIC;
\connect atelier_appointments
CREATE EXTENSION IF NOT EXISTS btree_gist;

-- campaigns: templates, segments, automations, deliveries, coupons.
\getenv campaigns_password ATELIER_CAMPAIGNS_DB_PASSWORD
\if :{?campaigns_password}
\else
\set campaigns_password 'atelier-campaigns-dev'
\endif
CREATE ROLE atelier_campaigns LOGIN PASSWORD :'campaigns_password';
CREATE DATABASE atelier_campaigns OWNER atelier_campaigns;
REVOKE ALL ON DATABASE atelier_campaigns FROM PUBLIC;
