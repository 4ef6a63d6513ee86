import RedisClient

/// The Lua scripts of the account store; each runs in one user's hash slot.
enum AccountScripts {
    /// KEYS: account, API keys, request meter of the user, of the key, token meter of the user,
    /// of the key (without a key the key's meters are the user's again).
    /// ARGV: key id ('' for an access token), the presented key's SHA-256, the user's requests
    /// and tokens per minute ('' for no limit), '1' to refuse over the request limits, '1' to
    /// refuse while the token limits are spent.
    /// Checks every meter before counting the request in any, so a refusal counts nothing.
    static let authenticate = RedisScript("""
        local account = redis.call('HGETALL', KEYS[1])
        if #account == 0 then return {'unknown'} end
        local keyraw, krpm, ktpm = '', '', ''
        if ARGV[1] ~= '' then
            keyraw = redis.call('HGET', KEYS[2], ARGV[1])
            if not keyraw then return {'unknown'} end
            local key = cjson.decode(keyraw)
            if key.hash ~= ARGV[2] then return {'unknown'} end
            if type(key.limits) == 'table' then
                if type(key.limits.requests_per_minute) == 'number' then krpm = tostring(key.limits.requests_per_minute) end
                if type(key.limits.tokens_per_minute) == 'number' then ktpm = tostring(key.limits.tokens_per_minute) end
            end
        end
        local ureq = tonumber(redis.call('GET', KEYS[3]) or '0')
        local kreq = tonumber(redis.call('GET', KEYS[4]) or '0')
        local utok = tonumber(redis.call('GET', KEYS[5]) or '0')
        local ktok = tonumber(redis.call('GET', KEYS[6]) or '0')
        if ARGV[5] == '1' then
            if ARGV[3] ~= '' and ureq >= tonumber(ARGV[3]) then return {'limited', 'requests', ARGV[3]} end
            if krpm ~= '' and kreq >= tonumber(krpm) then return {'limited', 'requests', krpm} end
        end
        if ARGV[6] == '1' then
            if ARGV[4] ~= '' and utok >= tonumber(ARGV[4]) then return {'limited', 'tokens', ARGV[4]} end
            if ktpm ~= '' and ktok >= tonumber(ktpm) then return {'limited', 'tokens', ktpm} end
        end
        ureq = redis.call('INCR', KEYS[3])
        redis.call('EXPIRE', KEYS[3], 120)
        if ARGV[1] ~= '' then
            kreq = redis.call('INCR', KEYS[4])
            redis.call('EXPIRE', KEYS[4], 120)
        end
        return {'ok', account, keyraw, ureq, kreq, utok, ktok, krpm, ktpm}
        """)

    /// KEYS: API keys, agents, sessions index, usage. ARGV: the user's key prefix.
    /// What a user holds: keys, agents, sessions, messages, prompt and completion tokens.
    static let userCounts = RedisScript("""
        local sessions = redis.call('ZRANGE', KEYS[3], 0, -1)
        local messages = 0
        for _, id in ipairs(sessions) do
            messages = messages + redis.call('LLEN', ARGV[1] .. ':session:' .. id .. ':messages')
        end
        local usage = redis.call('HMGET', KEYS[4], 'prompt_tokens', 'completion_tokens')
        return {redis.call('HLEN', KEYS[1]), redis.call('HLEN', KEYS[2]), #sessions, messages,
                tonumber(usage[1] or '0'), tonumber(usage[2] or '0')}
        """)

    /// KEYS: a user's keys or agents. ARGV: id, record JSON, the most allowed.
    /// Adds the record unless the user already has the most allowed (0), atomically, so
    /// concurrent requests cannot pass the limit together.
    static let addBounded = RedisScript("""
        if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
        redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
        return 1
        """)
}
