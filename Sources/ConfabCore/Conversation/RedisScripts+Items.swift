import RedisClient

/// The scripts behind what a front door changes in a session besides a turn: items a client
/// adds or deletes, and the documents it keeps with the session.
extension RedisScripts {
    /// KEYS: session, messages, sessions. ARGV: cap, ttl, now, session id, a title for an
    /// untitled session, then the messages' JSON, oldest first.
    static let appendMessages = RedisScript("""
        if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
        for i = 6, #ARGV do redis.call('LPUSH', KEYS[2], ARGV[i]) end
        redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[1]) - 1)
        redis.call('EXPIRE', KEYS[2], ARGV[2])
        local title = redis.call('HGET', KEYS[1], 'title')
        if (not title or title == '') and ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'title', ARGV[5]) end
        redis.call('HSET', KEYS[1], 'updated_at', ARGV[3], 'count', redis.call('LLEN', KEYS[2]))
        redis.call('EXPIRE', KEYS[1], ARGV[2])
        redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])
        redis.call('EXPIRE', KEYS[3], ARGV[2])
        return 1
        """)

    /// KEYS: session, messages. ARGV: the message's id. Returns 1 when it was there.
    static let deleteMessage = RedisScript("""
        if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
        for _, item in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
            local ok, message = pcall(cjson.decode, item)
            if ok and type(message) == 'table' and message.id == ARGV[1] then
                redis.call('LREM', KEYS[2], 1, item)
                redis.call('HSET', KEYS[1], 'count', redis.call('LLEN', KEYS[2]))
                return 1
            end
        end
        return 0
        """)

    /// KEYS: session, sessions. ARGV: the document's field, its JSON, a title, now, the session
    /// id, ttl, '1' to retitle (and count as activity). A session that is gone stays gone.
    static let saveDocument = RedisScript("""
        if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
        redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
        if ARGV[7] == '1' then
            redis.call('HSET', KEYS[1], 'title', ARGV[3], 'updated_at', ARGV[4])
            redis.call('EXPIRE', KEYS[1], ARGV[6])
            redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
        end
        return 1
        """)
}

/// The stream slots and token meters of a turn kept nowhere (`Turn.unstored`): the same meters
/// `beginTurn` and `finishTurn` keep for a stored turn, without a session.
extension RedisScripts {
    /// KEYS: the stream slots of the user's and the key's scope. ARGV: their limits ('' for
    /// none), now in ms, the turn's token, how long a slot lasts in ms. Returns the limit that is
    /// full (nothing taken), or 0 with a slot taken in each scope that has a limit.
    static let takeStreamSlots = RedisScript("""
        for i = 1, 2 do
            if ARGV[i] ~= '' then
                redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', ARGV[3])
                if redis.call('ZCARD', KEYS[i]) >= tonumber(ARGV[i]) then return tonumber(ARGV[i]) end
            end
        end
        for i = 1, 2 do
            if ARGV[i] ~= '' then
                redis.call('ZADD', KEYS[i], tonumber(ARGV[3]) + tonumber(ARGV[5]), ARGV[4])
                redis.call('PEXPIRE', KEYS[i], ARGV[5])
            end
        end
        return 0
        """)

    /// KEYS: the two stream slots, the two token meters, the account. ARGV: the turn's token,
    /// its tokens (counted while the account exists, as `finishTurn` does).
    static let releaseStreamSlots = RedisScript("""
        redis.call('ZREM', KEYS[1], ARGV[1])
        redis.call('ZREM', KEYS[2], ARGV[1])
        if tonumber(ARGV[2]) > 0 and redis.call('EXISTS', KEYS[5]) == 1 then
            redis.call('INCRBY', KEYS[3], ARGV[2])
            redis.call('EXPIRE', KEYS[3], 120)
            if KEYS[4] ~= KEYS[3] then
                redis.call('INCRBY', KEYS[4], ARGV[2])
                redis.call('EXPIRE', KEYS[4], 120)
            end
        end
        return 1
        """)
}
