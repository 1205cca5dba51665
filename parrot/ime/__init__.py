"""T9 pinyin input method: dictionary, candidate engine, key-event session, evaluation.

Run time needs only numpy and the shipped dictionary (parrot/ime/data/pinyin.dict);
pypinyin and jieba are used by tools/build_ime_dict.py and the tests, never imported here.
"""
