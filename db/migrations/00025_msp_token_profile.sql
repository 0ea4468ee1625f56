-- +goose Up
-- The optional OCPI Token fields the driver's preferences live in
-- (mod_tokens → Token Object): default_profile_type (ProfileType: the
-- smart charging profile a session of the token gets unless the driver
-- chooses otherwise) and energy_contract (EnergyContract: the driver's own
-- energy supplier, supplier_name required, contract_id optional). Both are
-- published by the Tokens sender, the push to CPOs and
-- AuthorizationInfo.token. The contract is two text columns (not jsonb) so
-- that the real-time authorization lookup reads it as text.
ALTER TABLE msp_token
    ADD COLUMN default_profile_type text CHECK (default_profile_type IN ('CHEAP', 'FAST', 'GREEN', 'REGULAR')),
    ADD COLUMN energy_contract_supplier_name text CHECK (char_length(energy_contract_supplier_name) BETWEEN 1 AND 64),
    ADD COLUMN energy_contract_contract_id text CHECK (char_length(energy_contract_contract_id) BETWEEN 1 AND 64),
    ADD CONSTRAINT msp_token_energy_contract_supplier CHECK (energy_contract_contract_id IS NULL OR energy_contract_supplier_name IS NOT NULL);

-- +goose Down
ALTER TABLE msp_token
    DROP CONSTRAINT msp_token_energy_contract_supplier,
    DROP COLUMN energy_contract_contract_id,
    DROP COLUMN energy_contract_supplier_name,
    DROP COLUMN default_profile_type;
