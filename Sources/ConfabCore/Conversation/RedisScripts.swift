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

    static let beginTurn = RedisScript("""
        if redis.call('EXISTS', KEYS[1]) == 0 then return {'unknown'} end
        if not redis.call('SET', KEYS[4], ARGV[1], 'NX', 'PX', ARGV[2]) then return {'busy'} end
        local window = redis.call('LRANGE', KEYS[2], 0, tonumber(ARGV[3]) - 1)
        redis.call('LPUSH', KEYS[2], ARGV[4])
        redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[5]) - 1)
        redis.call('EXPIRE', KEYS[2], ARGV[6])
        local title = redis.call('HGET', KEYS[1], 'title')
        if not title or title == '' then redis.call('HSET', KEYS[1], 'title', ARGV[9]) end
        redis.call('HSET', KEYS[1], 'updated_at', ARGV[7], 'count', redis.call('LLEN', KEYS[2]), 'persona', ARGV[10])
        redis.call('EXPIRE', KEYS[1], ARGV[6])
        redis.call('ZADD', KEYS[3], ARGV[7], ARGV[8])
        redis.call('EXPIRE', KEYS[3], ARGV[6])
        return {'ok', window}
        """)

    /// KEYS: session, messages, sessions, lock, debug.
    /// ARGV: lock token, reply JSON, cap, ttl, now, session id, prompt tokens, completion tokens,
    /// debug capture ('' for none), debug ttl.
    /// A session deleted while its reply streamed stays deleted: the reply is dropped.
    static let finishTurn = RedisScript("""
        if redis.call('GET', KEYS[4]) == ARGV[1] then redis.call('DEL', KEYS[4]) end
        if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
        redis.call('LPUSH', KEYS[2], ARGV[2])
        redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[3]) - 1)
        redis.call('EXPIRE', KEYS[2], ARGV[4])
        redis.call('HSET', KEYS[1], 'updated_at', ARGV[5], 'count', redis.call('LLEN', KEYS[2]))
        redis.call('HINCRBY', KEYS[1], 'prompt_tokens', ARGV[7])
        redis.call('HINCRBY', KEYS[1], 'completion_tokens', ARGV[8])
        redis.call('EXPIRE', KEYS[1], ARGV[4])
        redis.call('ZADD', KEYS[3], ARGV[5], ARGV[6])
        redis.call('EXPIRE', KEYS[3], ARGV[4])
        if ARGV[9] ~= '' then redis.call('SET', KEYS[5], ARGV[9], 'EX', ARGV[10]) end
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
