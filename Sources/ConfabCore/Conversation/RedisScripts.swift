import RedisClient

/// The Lua scripts behind the store's atomic steps. A script checks and writes in one round
/// trip, which MULTI/EXEC cannot (it cannot refuse to write when a session is unknown).
enum RedisScripts {
    /// KEYS: session, messages, sessions, lock.
    /// ARGV: lock token, lock ms, window, message JSON, cap, ttl, now, session id, title, persona.
    /// KEYS: sessions index, session hash. ARGV: most sessions, now, persona, id, TTL seconds.
    /// Index entries older than the TTL (their session expired) are dropped before counting.
    static let createSession = RedisScript("""
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[2]) - tonumber(ARGV[5]))
        if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
        redis.call('HSET', KEYS[2], 'title', '', 'persona', ARGV[3], 'created_at', ARGV[2], 'updated_at', ARGV[2], 'count', 0)
        redis.call('EXPIRE', KEYS[2], ARGV[5])
        redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
        redis.call('EXPIRE', KEYS[1], ARGV[5])
        return 1
        """)

    /// KEYS[5]: the turn's abandoned marker (see `abandonTurn`). ARGV[10]: the persona, '' for
    /// the session's own (returned). ARGV[11]: '1' to create the session when it does not exist
    /// (the AI SDK's chat id, made up by the client), ARGV[12]: the most sessions a user may
    /// have, ARGV[13]: a new session's persona when none is asked for. The lock is taken before
    /// a session is created, so a busy one is never re-created under its streaming turn.
    ///
    /// KEYS[6]: the user's agents; an agent asked for (`agt_…`) must be one of them, and the
    /// session's agent is returned with the window. KEYS[7], KEYS[8]: the stream slots of the
    /// user's and the key's scope, ARGV[14], ARGV[15] their limits ('' for none), ARGV[16] now in
    /// ms: a turn over a limit is refused before anything is written; else it takes a slot in
    /// each (its lock token, until the lock would expire). ARGV[17…]: earlier messages the client
    /// brings along, oldest first, stored before the user's.
    static let beginTurn = RedisScript("""
        if redis.call('EXISTS', KEYS[5]) == 1 then return {'abandoned'} end
        if string.sub(ARGV[10], 1, 4) == 'agt_' and redis.call('HEXISTS', KEYS[6], ARGV[10]) == 0 then return {'unknown_agent'} end
        local exists = redis.call('EXISTS', KEYS[1]) == 1
        if not exists then
            if ARGV[11] ~= '1' then return {'unknown'} end
            redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', tonumber(ARGV[7]) - tonumber(ARGV[6]))
            if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[12]) then return {'limit'} end
        end
        for i = 0, 1 do
            if ARGV[14 + i] ~= '' then
                redis.call('ZREMRANGEBYSCORE', KEYS[7 + i], '-inf', ARGV[16])
                if redis.call('ZCARD', KEYS[7 + i]) >= tonumber(ARGV[14 + i]) then return {'streams', ARGV[14 + i]} end
            end
        end
        if not redis.call('SET', KEYS[4], ARGV[1], 'NX', 'PX', ARGV[2]) then return {'busy'} end
        for i = 0, 1 do
            if ARGV[14 + i] ~= '' then
                redis.call('ZADD', KEYS[7 + i], tonumber(ARGV[16]) + tonumber(ARGV[2]), ARGV[1])
                redis.call('PEXPIRE', KEYS[7 + i], ARGV[2])
            end
        end
        if not exists then
            local persona = ARGV[10]
            if persona == '' then persona = ARGV[13] end
            redis.call('HSET', KEYS[1], 'title', '', 'persona', persona, 'created_at', ARGV[7], 'count', 0)
        end
        local window = redis.call('LRANGE', KEYS[2], 0, tonumber(ARGV[3]) - 1)
        local persona = ARGV[10]
        if persona == '' then persona = redis.call('HGET', KEYS[1], 'persona') or '' end
        for i = 17, #ARGV do redis.call('LPUSH', KEYS[2], ARGV[i]) end
        redis.call('LPUSH', KEYS[2], ARGV[4])
        redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[5]) - 1)
        redis.call('EXPIRE', KEYS[2], ARGV[6])
        local title = redis.call('HGET', KEYS[1], 'title')
        if not title or title == '' then redis.call('HSET', KEYS[1], 'title', ARGV[9]) end
        redis.call('HSET', KEYS[1], 'updated_at', ARGV[7], 'count', redis.call('LLEN', KEYS[2]), 'persona', persona)
        redis.call('EXPIRE', KEYS[1], ARGV[6])
        redis.call('ZADD', KEYS[3], ARGV[7], ARGV[8])
        redis.call('EXPIRE', KEYS[3], ARGV[6])
        local agent = ''
        if string.sub(persona, 1, 4) == 'agt_' then agent = redis.call('HGET', KEYS[6], persona) or '' end
        return {'ok', window, persona, agent}
        """)

    /// KEYS: session, messages, sessions, lock, debug, user usage.
    /// ARGV: lock token, reply JSON, cap, ttl, now, session id, prompt tokens, completion tokens,
    /// debug capture ('' for none), debug ttl.
    /// ARGV[11]: the reply's id.
    /// A session deleted while its reply streamed stays deleted: the reply is dropped. A store that
    /// ran although its caller timed out makes the caller's retry a no-op (`last_reply`).
    ///
    /// KEYS[7], KEYS[8]: the stream slots the turn holds (freed); KEYS[9], KEYS[10]: the token
    /// meters of the user's and the key's scope, ARGV[12]: tokens to count in them (0 for none).
    /// KEYS[11]: the account: tokens count while it exists (a session deleted mid-reply does not
    /// escape the limit; a user deleted mid-reply leaves no meter behind).
    static let finishTurn = RedisScript("""
        if redis.call('GET', KEYS[4]) == ARGV[1] then redis.call('DEL', KEYS[4]) end
        if redis.call('HGET', KEYS[1], 'last_reply') == ARGV[11] then return 1 end
        redis.call('ZREM', KEYS[7], ARGV[1])
        redis.call('ZREM', KEYS[8], ARGV[1])
        if tonumber(ARGV[12]) > 0 and redis.call('EXISTS', KEYS[11]) == 1 then
            redis.call('INCRBY', KEYS[9], ARGV[12])
            redis.call('EXPIRE', KEYS[9], 120)
            if KEYS[10] ~= KEYS[9] then
                redis.call('INCRBY', KEYS[10], ARGV[12])
                redis.call('EXPIRE', KEYS[10], 120)
            end
        end
        if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
        redis.call('LPUSH', KEYS[2], ARGV[2])
        redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[3]) - 1)
        redis.call('EXPIRE', KEYS[2], ARGV[4])
        redis.call('HSET', KEYS[1], 'updated_at', ARGV[5], 'count', redis.call('LLEN', KEYS[2]), 'last_reply', ARGV[11])
        redis.call('HINCRBY', KEYS[1], 'prompt_tokens', ARGV[7])
        redis.call('HINCRBY', KEYS[1], 'completion_tokens', ARGV[8])
        redis.call('HINCRBY', KEYS[6], 'prompt_tokens', ARGV[7])
        redis.call('HINCRBY', KEYS[6], 'completion_tokens', ARGV[8])
        redis.call('EXPIRE', KEYS[6], ARGV[4])
        redis.call('EXPIRE', KEYS[1], ARGV[4])
        redis.call('ZADD', KEYS[3], ARGV[5], ARGV[6])
        redis.call('EXPIRE', KEYS[3], ARGV[4])
        if ARGV[9] ~= '' then redis.call('SET', KEYS[5], ARGV[9], 'EX', ARGV[10]) end
        return 1
        """)

    /// KEYS: session, messages, lock, abandoned marker. ARGV: lock token, user message id, marker ms.
    /// Undoes a `beginTurn` whose answer never came (its caller timed out, told the client
    /// nothing was written): if it ran, frees the lock it took and removes the user message; if it
    /// has not run yet, the marker makes it do nothing when it does. Either order ends the same.
    /// KEYS[5], KEYS[6]: the stream slots the begin took. ARGV[4…]: the ids of the earlier
    /// messages the begin stored with the user's, removed too.
    static let abandonTurn = RedisScript("""
        redis.call('SET', KEYS[4], '1', 'PX', ARGV[3])
        redis.call('ZREM', KEYS[5], ARGV[1])
        redis.call('ZREM', KEYS[6], ARGV[1])
        if redis.call('GET', KEYS[3]) ~= ARGV[1] then return 0 end
        redis.call('DEL', KEYS[3])
        local ids = {[ARGV[2]] = true}
        for i = 4, #ARGV do ids[ARGV[i]] = true end
        for _, item in ipairs(redis.call('LRANGE', KEYS[2], 0, 9 + #ARGV - 3)) do
            local ok, message = pcall(cjson.decode, item)
            if ok and type(message) == 'table' and ids[message.id] then redis.call('LREM', KEYS[2], 1, item) end
        end
        redis.call('HSET', KEYS[1], 'count', redis.call('LLEN', KEYS[2]))
        return 1
        """)

    /// KEYS: sessions index, session hash. ARGV: id, now, title ('' keeps it), persona ('' keeps
    /// it), most sessions, TTL, the persona of a new session when none is given. Creates the session (client-chosen id) or updates it; returns 1
    /// created, 2 updated, 0 over the session limit.
    static let upsertSession = RedisScript("""
        local existed = redis.call('EXISTS', KEYS[2]) == 1
        if not existed then
            redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[2]) - tonumber(ARGV[6]))
            if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[5]) then return 0 end
            local persona = ARGV[4]
            if persona == '' then persona = ARGV[7] end
            redis.call('HSET', KEYS[2], 'title', ARGV[3], 'persona', persona, 'created_at', ARGV[2], 'count', 0)
        else
            if ARGV[3] ~= '' then redis.call('HSET', KEYS[2], 'title', ARGV[3]) end
            if ARGV[4] ~= '' then redis.call('HSET', KEYS[2], 'persona', ARGV[4]) end
        end
        redis.call('HSET', KEYS[2], 'updated_at', ARGV[2])
        redis.call('EXPIRE', KEYS[2], ARGV[6])
        redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
        redis.call('EXPIRE', KEYS[1], ARGV[6])
        if existed then return 2 end
        return 1
        """)

    /// KEYS: session, messages. Empties the messages, keeps the session.
    static let clearHistory = RedisScript("""
        if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
        redis.call('DEL', KEYS[2])
        redis.call('HSET', KEYS[1], 'count', 0)
        return 1
        """)

    /// KEYS: session, messages, sessions. ARGV: session id.
    static let deleteSession = RedisScript("""
        local existed = redis.call('EXISTS', KEYS[1])
        redis.call('ZREM', KEYS[3], ARGV[1])
        redis.call('DEL', KEYS[1], KEYS[2])
        return existed
        """)
}
